module github.com/vocafuse/recorder

go 1.26

require (
	github.com/andybalholm/brotli v1.2.8
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/google/uuid v1.6.0
	github.com/hack-pad/safejs v0.1.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect
