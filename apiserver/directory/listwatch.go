package directory

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// The directory's reflectors list and watch Users, Memberships and
// Organizations with listWatch rather than client-go's typed client.
// client-go reads each watch event four times over (framing, the event,
// the object's kind, the object), which was most of a restart's time.
// listWatch reads each event once, straight into the typed object, and skips
// the objects' managedFields, which the directory never serves.

// streamJSON decodes the API server's JSON: case-sensitive field names, as
// Kubernetes' own decoder, and managedFields skipped.
var streamJSON = func() jsoniter.API {
	api := jsoniter.Config{CaseSensitive: true}.Froze()
	api.RegisterExtension(&skipManagedFields{})
	return api
}()

type skipManagedFields struct{ jsoniter.DummyExtension }

var managedFieldsType = reflect.TypeFor[[]metav1.ManagedFieldsEntry]()

func (*skipManagedFields) CreateDecoder(typ reflect2.Type) jsoniter.ValDecoder {
	if typ.Type1() == managedFieldsType {
		return skipValue{}
	}
	return nil
}

type skipValue struct{}

func (skipValue) Decode(_ unsafe.Pointer, iter *jsoniter.Iterator) { iter.Skip() }

// listWatch lists and watches one resource of iam.roster.dev.
type listWatch struct {
	client   *http.Client
	url      string
	resource schema.GroupResource
	newObj   func() runtime.Object
	// prepare, if set, is applied to each list item as soon as it is
	// read, while the rest of the list is still arriving.
	prepare func(runtime.Object) runtime.Object
}

var (
	_ toolscache.ListerWatcherWithContext = &listWatch{}
	_ toolscache.ListerWatcher            = &listWatch{}
)

// ListClient is the HTTP client of the reflectors: HTTP/1.1, one
// connection per list or watch. Over HTTP/2 the lists of users and of
// memberships would share one connection, and each 16 KiB frame of them
// would pass from the connection's reading goroutine to the list's; that
// cost a reader of the two lists half as much CPU again as over HTTP/1.1
// (docs/benchmarks.md, "Restart").
func ListClient(cfg *rest.Config) (*http.Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the HTTP client of the lists and watches: %w", err)
	}
	return hc, nil
}

// newListWatch returns the listWatch of obj's resource, or nil for a type
// it does not know.
func newListWatch(cfg *rest.Config, hc *http.Client, obj runtime.Object) *listWatch {
	var lw listWatch
	switch obj.(type) {
	case *iamv1alpha1.User:
		lw.resource.Resource = "users"
		lw.newObj = func() runtime.Object { return &iamv1alpha1.User{} }
	case *iamv1alpha1.Membership:
		lw.resource.Resource = "memberships"
		lw.newObj = func() runtime.Object { return &iamv1alpha1.Membership{} }
	case *iamv1alpha1.Organization:
		lw.resource.Resource = "organizations"
		lw.newObj = func() runtime.Object { return &iamv1alpha1.Organization{} }
	default:
		return nil
	}
	lw.resource.Group = iamv1alpha1.GroupVersion.Group
	lw.client = hc
	lw.url = strings.TrimSuffix(cfg.Host, "/") + strings.TrimSuffix(cfg.APIPath, "/") +
		"/apis/" + iamv1alpha1.GroupVersion.String() + "/" + lw.resource.Resource
	return &lw
}

// IsWatchListSemanticsUnSupported makes the reflectors list rather than
// stream their initial objects: kube-apiserver sends a list of 30,000 users
// and 30,000 memberships in 1.6 s, and the same objects as watch events in
// 2.8 s (BenchmarkDirectoryRestart, floor-list-s and floor-stream-s).
func (lw *listWatch) IsWatchListSemanticsUnSupported() bool { return true }

func (lw *listWatch) List(opts metav1.ListOptions) (runtime.Object, error) {
	return lw.ListWithContext(context.Background(), opts)
}

func (lw *listWatch) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return lw.WatchWithContext(context.Background(), opts)
}

// ListWithContext lists one page of the resource.
func (lw *listWatch) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	opts.Watch = false
	body, err := lw.get(ctx, "list", opts)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	list := &objectList{}
	iter := jsoniter.Parse(streamJSON, body, 64<<10)
	for field := iter.ReadObject(); field != ""; field = iter.ReadObject() {
		switch field {
		case "metadata":
			iter.ReadVal(&list.ListMeta)
		case "items":
			for iter.ReadArray() {
				obj := lw.decodeObject(watch.Added, iter)
				if lw.prepare != nil {
					obj = lw.prepare(obj)
				}
				list.Items = append(list.Items, obj)
			}
		default:
			iter.Skip()
		}
	}
	if iter.Error != nil {
		return nil, fmt.Errorf("decoding the list of %s: %w", lw.resource, iter.Error)
	}
	return list, nil
}

// objectList is a list whose items were decoded one by one: the reflector
// takes them as they are (meta.ExtractListWithAlloc), where a typed list's
// slice of whole objects would be grown, copied as it grows, then copied
// once more item by item.
type objectList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []runtime.Object
}

func (l *objectList) DeepCopyObject() runtime.Object {
	out := &objectList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]runtime.Object, len(l.Items))
	for i, o := range l.Items {
		out.Items[i] = o.DeepCopyObject()
	}
	return out
}

// WatchWithContext opens a watch, and a watch-list stream when opts ask for
// the initial events.
func (lw *listWatch) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch, opts.AllowWatchBookmarks = true, true
	ctx, cancel := context.WithCancel(ctx)
	body, err := lw.get(ctx, "watch", opts)
	if err != nil {
		cancel()
		return nil, err
	}
	w := &streamWatch{out: make(chan watch.Event), cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	go w.receive(lw, body)
	return w, nil
}

// get sends one GET with opts and returns the body of a 200; any other
// answer is the API server's error.
func (lw *listWatch) get(ctx context.Context, verb string, opts metav1.ListOptions) (io.ReadCloser, error) {
	q, err := scheme.ParameterCodec.EncodeParameters(&opts, schema.GroupVersion{Version: "v1"})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lw.url+"?"+url.Values(q).Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	// Compressing a list costs kube-apiserver more than sending it.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := lw.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var status metav1.Status
	if streamJSON.Unmarshal(data, &status) == nil && status.Kind == "Status" && status.Status == metav1.StatusFailure {
		if status.Code == 0 {
			status.Code = int32(resp.StatusCode)
		}
		return nil, &apierrors.StatusError{ErrStatus: status}
	}
	return nil, apierrors.NewGenericServerResponse(resp.StatusCode, verb, lw.resource, "", string(data), 0, true)
}

// streamWatch is a watch read from the API server's JSON event stream.
type streamWatch struct {
	out    chan watch.Event
	cancel context.CancelFunc
	once   sync.Once
	// stop is closed by Stop; done when receive has returned.
	stop, done chan struct{}
}

func (w *streamWatch) ResultChan() <-chan watch.Event { return w.out }

func (w *streamWatch) Stop() {
	w.once.Do(func() { close(w.stop) })
	w.cancel()
	<-w.done
}

// receive decodes the events of body until it ends or the watch stops.
func (w *streamWatch) receive(lw *listWatch, body io.ReadCloser) {
	defer close(w.done)
	defer close(w.out)
	defer body.Close()
	defer w.cancel()
	iter := jsoniter.Parse(streamJSON, body, 256<<10)
	for {
		ev, ok := lw.next(iter)
		if !ok {
			if err := iter.Error; err != nil && err != io.EOF && !strings.Contains(err.Error(), "context canceled") {
				klog.V(2).InfoS("the watch stream ended", "resource", lw.resource.String(), "err", err)
			}
			return
		}
		select {
		case w.out <- ev:
		case <-w.stop:
			return
		}
	}
}

// next reads one event: {"type": ..., "object": {...}}. The API server
// writes type first, so the object decodes straight into its type; an
// object before its type is read twice.
func (lw *listWatch) next(iter *jsoniter.Iterator) (watch.Event, bool) {
	if iter.WhatIsNext() != jsoniter.ObjectValue {
		return watch.Event{}, false
	}
	var ev watch.Event
	var raw []byte
	for field := iter.ReadObject(); field != ""; field = iter.ReadObject() {
		switch field {
		case "type":
			ev.Type = watch.EventType(iter.ReadString())
		case "object":
			if ev.Type == "" {
				raw = iter.SkipAndReturnBytes()
				continue
			}
			ev.Object = lw.decodeObject(ev.Type, iter)
		default:
			iter.Skip()
		}
	}
	if iter.Error != nil {
		return watch.Event{}, false
	}
	if ev.Object == nil && raw != nil {
		ev.Object = lw.decodeObject(ev.Type, jsoniter.ParseBytes(streamJSON, raw))
	}
	if ev.Type == "" || ev.Object == nil {
		iter.ReportError("reading a watch event", "an event without a type or an object")
		return watch.Event{}, false
	}
	return ev, true
}

func (lw *listWatch) decodeObject(t watch.EventType, iter *jsoniter.Iterator) runtime.Object {
	var obj runtime.Object
	if t == watch.Error {
		obj = &metav1.Status{}
	} else {
		obj = lw.newObj()
	}
	iter.ReadVal(obj)
	if t != watch.Error {
		// As client-go's typed decoding: the cache's objects carry no kind.
		obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	}
	return obj
}
