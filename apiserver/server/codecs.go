package server

import (
	"io"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// jsonAppender is an object that writes its own JSON, compact and with
// HTML characters escaped, as encoding/json's Encoder writes it: the
// directory's users and pages of users.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// directCodecs negotiates as Codecs does, but writes an object that writes
// its own JSON (a jsonAppender) as it is. Through encoding/json, the
// Encoder would check and compact those bytes again, which took longer
// than writing them (BenchmarkEncodeUserList).
type directCodecs struct {
	serializer.CodecFactory
}

func (c directCodecs) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := slices.Clone(c.CodecFactory.SupportedMediaTypes())
	for i := range infos {
		if infos[i].MediaType == runtime.ContentTypeJSON {
			infos[i].Serializer = directJSON{infos[i].Serializer}
		}
	}
	return infos
}

type directJSON struct {
	runtime.Serializer
}

var jsonBuffers = sync.Pool{New: func() any { return new([]byte) }}

func (s directJSON) Encode(obj runtime.Object, w io.Writer) error {
	a, ok := obj.(jsonAppender)
	if !ok {
		return s.Serializer.Encode(obj, w)
	}
	buf := jsonBuffers.Get().(*[]byte)
	defer func() {
		// A whole unpaged list is not kept for the next page.
		if cap(*buf) <= 1<<20 {
			jsonBuffers.Put(buf)
		}
	}()
	b, err := a.AppendJSON((*buf)[:0])
	if err != nil {
		return err
	}
	// An Encoder ends each value with a newline.
	*buf = append(b, '\n')
	_, err = w.Write(*buf)
	return err
}
