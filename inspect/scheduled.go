package inspect

import "context"

// scheduled lists the delayed tasks: see [Inspector.Tasks].
func (in *Inspector) scheduled(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	return Page{}, nil, errUnbuilt
}
