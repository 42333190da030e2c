// Package plan holds the few types the worker's parts share: where a batch of rows comes from
// (Pos) and what is done to it (Transform). Scanning, evaluation and serving meet only here, so
// each can be tested without the others.
package plan
