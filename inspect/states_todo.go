package inspect

import "context"

// The listers of the states built on another branch; that branch deletes
// this file.

func (in *Inspector) running(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	return Page{}, nil, errUnbuilt
}

func (in *Inspector) retrying(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	return Page{}, nil, errUnbuilt
}

func (in *Inspector) completed(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	return Page{}, nil, errUnbuilt
}

func (in *Inspector) failed(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	return Page{}, nil, errUnbuilt
}
