// Command yamux_peer is the hashicorp/yamux side of Burrow's interop tests
// (tests/interop/hashicorp_test.ts).
//
// It dials -addr, runs a yamux client session over the connection (DefaultConfig
// with keepalive every -keepalive and a -window MaxStreamWindowSize) and takes
// commands as JSON lines on stdin; it reports what happened as JSON lines on
// stdout. yamux's own log goes to stderr. It exits 0 once the session closes.
//
// Commands:
//
//	{"cmd":"open-echo","sizes":[n,...]}  open one stream per size, concurrently: send a 4-byte
//	                                     big-endian length and n random bytes while reading the
//	                                     echo; after the echo expect EOF (Burrow's FIN), then Close.
//	{"cmd":"ping"}                       Session.Ping()
//	{"cmd":"goaway"}                     Session.GoAway(): new inbound streams are reset
//	{"cmd":"open"}                       Session.OpenStream() and report the error (after a GoAway)
//	{"cmd":"close"}                      Session.Close() and exit
//
// Streams Burrow opens start with a tag byte:
//
//	'E'  read to EOF (Burrow's FIN), write the same bytes back, Close.
//	'R'  read a 1-byte length and that many marker bytes, write "ok", then
//	     expect the next Read to fail with yamux.ErrConnectionReset.
//
// Build offline with Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o yamux_peer .
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	mrand "math/rand"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// streamDeadline bounds every stream operation so the peer never hangs.
const streamDeadline = 30 * time.Second

type command struct {
	Cmd   string `json:"cmd"`
	Sizes []int  `json:"sizes"`
}

// reporter writes one JSON object per line, safely from many goroutines.
type reporter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (r *reporter) report(v map[string]interface{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "yamux_peer: cannot write report: %v\n", err)
		os.Exit(3)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// firstErr returns the first non-nil error (Go 1.19 has no errors.Join).
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func sum(h hash.Hash) string {
	return hex.EncodeToString(h.Sum(nil))
}

func main() {
	addr := flag.String("addr", "", "TCP address of the Burrow session to dial")
	keepAlive := flag.Duration("keepalive", 30*time.Second, "yamux KeepAliveInterval")
	window := flag.Uint("window", 256*1024, "yamux MaxStreamWindowSize in bytes")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "yamux_peer: -addr is required")
		os.Exit(2)
	}
	out := &reporter{enc: json.NewEncoder(os.Stdout)}

	conn, err := net.Dial("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "yamux_peer: dial %s: %v\n", *addr, err)
		os.Exit(1)
	}
	config := yamux.DefaultConfig()
	config.LogOutput = os.Stderr
	config.EnableKeepAlive = true
	config.KeepAliveInterval = *keepAlive
	config.MaxStreamWindowSize = uint32(*window)
	session, err := yamux.Client(conn, config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "yamux_peer: yamux.Client: %v\n", err)
		os.Exit(1)
	}
	out.report(map[string]interface{}{"event": "ready"})

	go acceptLoop(session, out)
	go func() {
		<-session.CloseChan()
		out.report(map[string]interface{}{"event": "session-closed"})
		os.Exit(0)
	}()

	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		var c command
		if err := json.Unmarshal(lines.Bytes(), &c); err != nil {
			fmt.Fprintf(os.Stderr, "yamux_peer: bad command %q: %v\n", lines.Text(), err)
			os.Exit(2)
		}
		run(session, out, c)
	}
	// stdin closed: the test is gone.
	session.Close()
	os.Exit(0)
}

func run(session *yamux.Session, out *reporter, c command) {
	switch c.Cmd {
	case "open-echo":
		var wg sync.WaitGroup
		for _, size := range c.Sizes {
			wg.Add(1)
			go func(size int) {
				defer wg.Done()
				out.report(openEcho(session, size))
			}(size)
		}
		wg.Wait()
		out.report(map[string]interface{}{"event": "open-echo-done", "count": len(c.Sizes)})
	case "ping":
		rtt, err := session.Ping()
		out.report(map[string]interface{}{"event": "ping", "ok": err == nil, "err": errString(err), "rttMs": float64(rtt) / 1e6})
	case "goaway":
		err := session.GoAway()
		out.report(map[string]interface{}{"event": "goaway", "err": errString(err)})
	case "open":
		st, err := session.OpenStream()
		if st != nil {
			st.Close()
		}
		out.report(map[string]interface{}{"event": "open", "err": errString(err), "remoteGoAway": err == yamux.ErrRemoteGoAway})
	case "close":
		err := session.Close()
		out.report(map[string]interface{}{"event": "closed", "err": errString(err)})
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "yamux_peer: unknown command %q\n", c.Cmd)
		os.Exit(2)
	}
}

// openEcho sends a length-prefixed random payload on a new stream while reading
// Burrow's echo, then expects Burrow's FIN before sending its own.
func openEcho(session *yamux.Session, size int) map[string]interface{} {
	r := map[string]interface{}{"event": "open-echo", "size": size}
	st, err := session.OpenStream()
	if err != nil {
		r["err"] = "open: " + err.Error()
		return r
	}
	r["stream"] = st.StreamID()
	st.SetDeadline(time.Now().Add(streamDeadline))
	payload := make([]byte, size)
	if _, err := rand.Read(payload); err != nil {
		panic(err)
	}
	sent := sha256.Sum256(payload)
	r["sentSha"] = hex.EncodeToString(sent[:])

	written := make(chan error, 1)
	go func() {
		var prefix [4]byte
		binary.BigEndian.PutUint32(prefix[:], uint32(size))
		if _, err := st.Write(prefix[:]); err != nil {
			written <- err
			return
		}
		// Writes of varied sizes give frames of varied sizes.
		for off := 0; off < size; {
			n := 1 + mrand.Intn(96*1024)
			if off+n > size {
				n = size - off
			}
			if _, err := st.Write(payload[off : off+n]); err != nil {
				written <- err
				return
			}
			off += n
		}
		written <- nil
	}()

	h := sha256.New()
	n, readErr := io.CopyN(h, st, int64(size))
	r["recvLen"] = n
	r["recvSha"] = sum(h)
	// Nothing may follow the echo but Burrow's FIN: Read must return EOF
	// (this stream has not sent its own FIN yet, so EOF means the peer's).
	eof := false
	if readErr == nil {
		var one [1]byte
		m, err := st.Read(one[:])
		eof = m == 0 && err == io.EOF
		if !eof {
			readErr = fmt.Errorf("after the echo: read %d bytes, err %v", m, err)
		}
	}
	r["eof"] = eof
	writeErr := <-written
	closeErr := st.Close()
	r["err"] = errString(firstErr(readErr, writeErr, closeErr))
	return r
}

func acceptLoop(session *yamux.Session, out *reporter) {
	for {
		st, err := session.AcceptStream()
		if err != nil {
			return
		}
		go serve(st, out)
	}
}

func serve(st *yamux.Stream, out *reporter) {
	st.SetDeadline(time.Now().Add(streamDeadline))
	var tag [1]byte
	if _, err := io.ReadFull(st, tag[:]); err != nil {
		out.report(map[string]interface{}{"event": "accept-error", "stream": st.StreamID(), "err": err.Error()})
		return
	}
	switch tag[0] {
	case 'E':
		out.report(acceptEcho(st))
	case 'R':
		out.report(acceptReset(st))
	default:
		out.report(map[string]interface{}{"event": "accept-error", "stream": st.StreamID(), "err": fmt.Sprintf("unknown tag %q", tag[0])})
		st.Close()
	}
}

// acceptEcho reads to Burrow's FIN, then writes everything back and sends its own FIN.
func acceptEcho(st *yamux.Stream) map[string]interface{} {
	r := map[string]interface{}{"event": "accept-echo", "stream": st.StreamID()}
	data, readErr := io.ReadAll(st) // ReadAll stops at EOF: Burrow's FIN.
	r["size"] = len(data)
	r["eof"] = readErr == nil
	h := sha256.Sum256(data)
	r["recvSha"] = hex.EncodeToString(h[:])
	var writeErr error
	if readErr == nil {
		_, writeErr = st.Write(data)
	}
	closeErr := st.Close()
	r["err"] = errString(firstErr(readErr, writeErr, closeErr))
	return r
}

// acceptReset reads a marker, answers "ok" and then expects Burrow's RST.
func acceptReset(st *yamux.Stream) map[string]interface{} {
	r := map[string]interface{}{"event": "accept-rst", "stream": st.StreamID()}
	var n [1]byte
	if _, err := io.ReadFull(st, n[:]); err != nil {
		r["err"] = "marker length: " + err.Error()
		return r
	}
	marker := make([]byte, n[0])
	if _, err := io.ReadFull(st, marker); err != nil {
		r["err"] = "marker: " + err.Error()
		return r
	}
	r["marker"] = string(marker)
	if _, err := st.Write([]byte("ok")); err != nil {
		r["err"] = "write ok: " + err.Error()
		return r
	}
	var buf [1]byte
	m, err := st.Read(buf[:])
	r["readLen"] = m
	r["reset"] = err == yamux.ErrConnectionReset
	r["err"] = errString(err)
	return r
}
