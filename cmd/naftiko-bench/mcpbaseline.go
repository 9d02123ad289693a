package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// serveMCPBaseline is the MCP yardstick: a plain go-sdk server with the
// seed's record tool, making the same upstream call with the same bearer
// header and answering the body as one text content: what anyone writing
// the tool by hand would do, with no budget, pages or checks.
func serveMCPBaseline(ctx context.Context, listen, upstream, token string) error {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}}
	type args struct {
		PatientID string `json:"patientId" jsonschema:"the member's FHIR Patient id"`
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "baseline", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "retrieve-complete-clinical-record-attributed", Description: "A member's complete record."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in args) (*mcp.CallToolResult, any, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstream+"/Patient/"+url.PathEscape(in.PatientID)+"/$everything", nil)
			if err != nil {
				return nil, nil, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept", "application/fhir+json")
			resp, err := client.Do(req)
			if err != nil {
				return nil, nil, err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return nil, nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(body)}}, IsError: resp.StatusCode >= 400}, nil, nil
		})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{JSONResponse: true})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); hs.Close() }()
	fmt.Println("ready", ln.Addr())
	if err := hs.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
