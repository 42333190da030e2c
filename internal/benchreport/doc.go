// Package benchreport is the report plumbing the benchmark programs (cmd/propolis-bench,
// cmd/propolis-policy-bench, cmd/propolis-worker-bench) share, so that each program keeps only
// what it measures and the prose of its own section.
//
// It owns:
//   - a program's section of a Markdown file: the text between <!-- NAME:begin --> and
//     <!-- NAME:end -->, rewritten in place (WriteSection, ReplaceSection, Begin, End);
//   - the description of the machine a run measured on: CPU model, cores, memory, kernel, Go
//     version, commit, and the load average before and after (Machine, DescribeMachine,
//     GoVersionOf, LoadAvg, Busy);
//   - the duration format of the Thrift benchmarks' tables (Duration);
//   - the sampler of the Thrift benchmarks: calls back to back on one connection per worker
//     over a warm-up and a measured window, throughput per worker summed, and latency
//     percentiles (Run, Window, Sample, Measurement).
//
// What each report says about these, and the rest of its formatting, stays in its program.
package benchreport
