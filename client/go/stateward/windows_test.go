package stateward_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/stateward/stateward/client/go/stateward"
)

// http2Windows connects a client made with opts to a bare TCP listener and reads what its HTTP/2
// preface announces: SETTINGS_INITIAL_WINDOW_SIZE (the per-stream window) and the connection
// window (65535 plus the WINDOW_UPDATE increment on stream 0).
func http2Windows(t *testing.T, opts ...stateward.Option) (stream, conn uint32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	defer l.Close()
	c := specClient(t, l.Addr().String(), opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	go func() { _, _ = c.Get(ctx, app, "s", 0) }()
	sc, err := l.Accept()
	noErr(t, err)
	defer sc.Close()
	_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	preface := make([]byte, 24)
	_, err = io.ReadFull(sc, preface)
	noErr(t, err)
	stream, conn = 65535, 65535
	for range 4 { // SETTINGS, then WINDOW_UPDATE; grpc-go sends both before waiting for the server
		header := make([]byte, 9)
		if _, err := io.ReadFull(sc, header); err != nil {
			break
		}
		length := int(header[0])<<16 | int(header[1])<<8 | int(header[2])
		payload := make([]byte, length)
		_, err := io.ReadFull(sc, payload)
		noErr(t, err)
		streamID := binary.BigEndian.Uint32(header[5:]) & 0x7fffffff
		switch header[3] {
		case 0x4: // SETTINGS
			for i := 0; i+6 <= len(payload); i += 6 {
				if binary.BigEndian.Uint16(payload[i:]) == 0x4 {
					stream = binary.BigEndian.Uint32(payload[i+2:])
				}
			}
		case 0x8: // WINDOW_UPDATE
			if streamID == 0 {
				conn += binary.BigEndian.Uint32(payload) & 0x7fffffff
				return stream, conn
			}
		}
	}
	return stream, conn
}

func TestSixteenMiBWindowsUnlessOverridden(t *testing.T) {
	bothTransports(t, func(t *testing.T) {
		if stream, conn := http2Windows(t); stream != stateward.DefaultWindowSize || conn != stateward.DefaultWindowSize {
			t.Errorf("windows: stream %d, connection %d, want %d", stream, conn, stateward.DefaultWindowSize)
		}
		const mine = 1 << 20
		if stream, conn := http2Windows(t, stateward.WithDialOptions(grpc.WithInitialWindowSize(mine), grpc.WithInitialConnWindowSize(mine))); stream != mine || conn != mine {
			t.Errorf("overridden windows: stream %d, connection %d, want %d", stream, conn, mine)
		}
	})
}
