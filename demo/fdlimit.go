package main

import (
	"fmt"
	"log/slog"
	"math"
)

// Open files the server needs besides its connections and the uploads' files: stdio and
// the log, the listener, the metadata database and the data directory, the credentials,
// the runtime's own (epoll, its pipes). Each transcriber adds an audio file and its tool's
// pipes; each webhook worker a connection and its resolver's socket.
const (
	baseFileReserve         = 64
	filesPerTranscriber     = 8
	filesPerWebhookWorker   = 2
	minConnsWithinFileLimit = 16
)

// fileReserve is what the open-file limit must keep for everything but the connections
// and the uploads' files.
func fileReserve(transcribers, webhookWorkers int) int {
	return baseFileReserve + filesPerTranscriber*transcribers + filesPerWebhookWorker*webhookWorkers
}

// connsWithinFileLimit is how many connections the server can hold open within limit
// (RLIMIT_NOFILE) with reserve files kept for the rest: requested when it fits. An upload
// holds a file beside its connection, so each of up to uploadFiles connections counts
// twice. Never below a small floor, so that a tiny limit still serves someone (the files
// of the others then fail one by one with errors, not the whole server).
func connsWithinFileLimit(requested, uploadFiles, reserve int, limit uint64) int {
	if limit >= math.MaxInt32 || requested <= 0 {
		return requested // unlimited, or as good as
	}
	budget := int(limit) - reserve
	fit := budget - min(uploadFiles, budget/2)
	return max(min(requested, fit), minConnsWithinFileLimit)
}

// fitConnsToFileLimit answers maxConns lowered to what the open-file limit allows (one
// warning line when it is), so that a connection past the cap is answered 503 rather than
// left in the listen queue by accept's "too many open files".
func fitConnsToFileLimit(log *slog.Logger, maxConns, uploadFiles, reserve int) int {
	limit, ok := openFileLimit()
	if !ok {
		return maxConns
	}
	fit := connsWithinFileLimit(maxConns, uploadFiles, reserve, limit)
	if fit < maxConns {
		log.Warn(fmt.Sprintf("--max-conns %d lowered to %d: the open-file limit (ulimit -n) is %d", maxConns, fit, limit),
			"max_conns", fit, "requested_max_conns", maxConns, "open_file_limit", limit,
			"reserved_files", reserve, "upload_files", uploadFiles)
	}
	return fit
}
