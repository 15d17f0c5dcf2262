// Package testenv runs a kube-apiserver with the aggregation layer and the
// directory server registered with it through an APIService, as a user
// reaches it: the control plane of the end-to-end tests, the benchmarks and
// `roster local`. It holds the certificates of the aggregation layer, the
// registration, and the checks that the APIService is available and that
// kube-apiserver's discovery names the directory. It never imports the
// controllers: the directory's tests run without them.
package testenv
