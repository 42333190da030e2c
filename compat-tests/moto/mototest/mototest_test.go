package mototest

import (
	"net/http"
	"testing"
)

func TestStartAnswersHTTP(t *testing.T) {
	ep := Start(t)
	resp, err := http.Get(ep + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /moto-api/data.json: %s", resp.Status)
	}
}
