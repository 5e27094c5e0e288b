package awsfake

import (
	"context"
	"net/http"
)

func contextWith(r *http.Request, c Call) context.Context {
	return context.WithValue(r.Context(), callKey{}, c)
}
