package v1alpha1

// MaxID is the largest numeric ID of a User or an Organization: 2^53-1, the
// largest integer JSON clients (JavaScript among them) read exactly, and far
// inside int64, so that no addition of the ID counter can overflow.
const MaxID int64 = 1<<53 - 1
