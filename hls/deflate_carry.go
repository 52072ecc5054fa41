package hls

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
	"slices"
)

// Gzip bodies of media playlists that carry a query string (a playback
// token per player) onto every URI, without running a compressor per
// request.
//
// A playlist with the query q carried is F0 Q F1 Q ... Fn, where the Fi are
// the template's bytes between its cuts and Q is "?"+q. The template is
// parsed once into LZ77 tokens (RFC 1951 §3.2.5: literals and
// <length, backward distance> pairs) whose matches never straddle a cut,
// so each stays valid in the expanded text with its distance grown by the
// length of the Q copies in between. Every Q after the first is a copy of
// the previous one (a few bytes each), so the whole bit stream (one
// fixed-Huffman block, §3.2.6) depends on the query only through its
// length, except for the first Q's literals: it is built once per length
// (carryCode), and a request writes it around its query's literals, wraps
// it in gzip (RFC 1952 §2.3) and adds the CRC-32 of the expanded text
// (computed in chunks, or from a crcPlan once a template has served enough
// requests of that length).

// lzToken is a literal run (dist == 0) or a match of the template.
type lzToken struct {
	pos  int32  // where it starts in the template
	n    uint16 // literal run length, or match length (3..258)
	dist uint16 // match distance in the template; 0 for literals
	k    uint16 // cuts in (source, pos]: the expanded distance is dist + k*len(Q)
}

// lzTemplate is the tokenization of a template, split at its cuts:
// segs[i] are the tokens between cut i-1 and cut i (segs[len(cuts)] after
// the last cut). Once encoded (encode), the tokens that are the same in
// every expansion (literals, and matches with no cut between source and
// destination) are kept as ready bits, so that a request writes only the
// matches whose distance depends on the query's length.
type lzTemplate struct {
	segs   [][]lzToken
	pieces [][]lzPiece // by segment, after encode
}

// lzPiece is either fixed bits (the Huffman codes of a run of tokens) or
// one match whose distance grows with the query (tok).
type lzPiece struct {
	words []uint32 // whole 32-bit words of the bit stream, LSB first
	tail  uint32   // then tailBits more bits
	tailN uint8
	tok   lzToken // when tok.k > 0: a query-dependent match, words unused
}

// encode turns the tokens of data into pieces with the code tables f.
func (lz *lzTemplate) encode(f *fixedCodes, data []byte) {
	lz.pieces = make([][]lzPiece, len(lz.segs))
	var w bitWriter
	for s, toks := range lz.segs {
		var ps []lzPiece
		flush := func() {
			if len(w.out) == 0 && w.nbits == 0 {
				return
			}
			b := w.take()
			ps = append(ps, lzPiece{words: b.words, tail: b.tail, tailN: b.tailN})
		}
		for _, t := range toks {
			switch {
			case t.dist == 0:
				w.literals(f, data[t.pos:int(t.pos)+int(t.n)])
			case t.k == 0:
				w.match(f, int(t.n), int(t.dist))
			default:
				flush()
				ps = append(ps, lzPiece{tok: t})
			}
		}
		flush()
		lz.pieces[s] = ps
	}
}

const (
	maxMatch    = 258
	minMatch    = 4 // matches found by the hash of 4 bytes
	maxDistance = 32768
	lzHashBits  = 14
	maxLitRun   = 65535
)

// tokenize parses data into LZ77 tokens that do not cross the cuts
// (greedy, one hash candidate per position: fast, and the playlist's
// repetitions are line to line).
func tokenize(data []byte, cuts []int32) *lzTemplate {
	lz := &lzTemplate{segs: make([][]lzToken, len(cuts)+1)}
	var table [1 << lzHashBits]int32
	for i := range table {
		table[i] = -1
	}
	hash := func(i int) uint32 {
		return (binary.LittleEndian.Uint32(data[i:]) * 2654435761) >> (32 - lzHashBits)
	}
	ci := 0 // cuts[ci] is the first cut > i
	// nextCutAfter returns the first cut > p, or len(data)
	nextCutAfter := func(p int) int {
		lo, hi := 0, len(cuts)
		for lo < hi {
			mid := (lo + hi) / 2
			if int(cuts[mid]) > p {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if lo == len(cuts) {
			return len(data)
		}
		return int(cuts[lo])
	}
	seg := 0
	var toks []lzToken
	litStart := -1
	flushLit := func(end int) {
		for litStart >= 0 && litStart < end {
			n := min(end-litStart, maxLitRun)
			toks = append(toks, lzToken{pos: int32(litStart), n: uint16(n)})
			litStart += n
		}
		litStart = -1
	}
	for i := 0; i < len(data); {
		for ci < len(cuts) && int(cuts[ci]) <= i {
			// cut ci sits before byte i: close the segment
			end := int(cuts[ci])
			flushLit(end)
			lz.segs[seg] = toks
			toks = nil
			seg++
			ci++
		}
		limit := len(data)
		if ci < len(cuts) {
			limit = int(cuts[ci])
		}
		if i+minMatch > limit || i+4 > len(data) {
			if litStart < 0 {
				litStart = i
			}
			i++
			continue
		}
		h := hash(i)
		c := int(table[h])
		table[h] = int32(i)
		if c >= 0 && i-c <= maxDistance && binary.LittleEndian.Uint32(data[c:]) == binary.LittleEndian.Uint32(data[i:]) {
			srcLimit := nextCutAfter(c)
			maxLen := min(maxMatch, limit-i, srcLimit-c)
			n := 0
			for n < maxLen && data[c+n] == data[i+n] {
				n++
			}
			if n >= minMatch {
				flushLit(i)
				k := 0
				if c < i {
					// cuts in (c, i]
					k = countCuts(cuts, i) - countCuts(cuts, c)
				}
				toks = append(toks, lzToken{pos: int32(i), n: uint16(n), dist: uint16(i - c), k: uint16(k)})
				// index a few positions inside the match for the next ones
				for j := i + 1; j < i+n && j+4 <= len(data); j += 3 {
					table[hash(j)] = int32(j)
				}
				i += n
				continue
			}
		}
		if litStart < 0 {
			litStart = i
		}
		i++
	}
	for ci < len(cuts) {
		flushLit(int(cuts[ci]))
		lz.segs[seg] = toks
		toks = nil
		seg++
		ci++
	}
	flushLit(len(data))
	lz.segs[seg] = toks
	return lz
}

// countCuts is the number of cuts <= p.
func countCuts(cuts []int32, p int) int {
	lo, hi := 0, len(cuts)
	for lo < hi {
		mid := (lo + hi) / 2
		if int(cuts[mid]) <= p {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Fixed Huffman code tables (RFC 1951 §3.2.5, §3.2.6).
var (
	lengthBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// bitWriter writes DEFLATE bits, least significant first (§3.1.1).
type bitWriter struct {
	out   []byte
	acc   uint64
	nbits uint
}

// bits writes the n low bits of v; n <= 32.
func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 32 {
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(w.acc))
		w.acc >>= 32
		w.nbits -= 32
	}
}

// code writes a Huffman code of n bits, which is packed most significant
// bit first (§3.1.1).
func (w *bitWriter) code(c uint32, n uint) {
	w.bits(uint64(bits.Reverse32(c)>>(32-n)), n)
}

func (w *bitWriter) flush() {
	for w.nbits > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= min(w.nbits, 8)
	}
	w.acc = 0
}

// fixedCodes are the fixed Huffman codes (RFC 1951 §3.2.6), bit-reversed
// for the LSB-first writer, with the extra bits of lengths folded in.
type fixedCodes struct {
	lit    [286]uint16 // reversed code of literal/length symbol
	litN   [286]uint8  // its bit count
	length [259]uint32 // length 3..258: code | extra bits, <<8 | bit count
	dcode  [512]uint8  // distance code of d-1 < 256 at [d-1], else at [256+((d-1)>>7)]
}

func newFixedCodes() *fixedCodes {
	f := &fixedCodes{}
	rev := func(c uint32, n uint) uint16 { return uint16(bits.Reverse32(c) >> (32 - n)) }
	for s := 0; s < 286; s++ {
		var c uint32
		var n uint
		switch {
		case s < 144:
			c, n = uint32(0x30+s), 8
		case s < 256:
			c, n = uint32(0x190+s-144), 9
		case s < 280:
			c, n = uint32(s-256), 7
		default:
			c, n = uint32(0xc0+s-280), 8
		}
		f.lit[s], f.litN[s] = rev(c, n), uint8(n)
	}
	for l := 3; l <= 258; l++ {
		lc := 28
		if l < 258 {
			lc = 27
			for lengthBase[lc] > uint16(l) {
				lc--
			}
		}
		sym := 257 + lc
		v := uint32(f.lit[sym]) | uint32(l-int(lengthBase[lc]))<<f.litN[sym]
		f.length[l] = v<<8 | uint32(f.litN[sym]+lengthExtra[lc])
	}
	for dc := range distBase {
		lo := int(distBase[dc])
		for d := lo; d < lo+1<<distExtra[dc]; d++ {
			if d <= 256 {
				f.dcode[d-1] = uint8(dc)
			} else {
				f.dcode[256+((d-1)>>7)] = uint8(dc)
			}
		}
	}
	return f
}

func (w *bitWriter) literals(f *fixedCodes, b []byte) {
	for _, c := range b {
		w.bits(uint64(f.lit[c]), uint(f.litN[c]))
	}
}

// match writes <length, distance>; 3 <= length <= 258, 1 <= dist <= 32768.
func (w *bitWriter) match(f *fixedCodes, length, dist int) {
	lv := f.length[length]
	var dc uint8
	if dist <= 256 {
		dc = f.dcode[dist-1]
	} else {
		dc = f.dcode[256+((dist-1)>>7)]
	}
	dv := uint64(bits.Reverse8(dc)>>3) | uint64(dist-int(distBase[dc]))<<5
	w.bits(uint64(lv>>8)|dv<<(lv&0xff), uint(lv&0xff)+5+uint(distExtra[dc]))
}

// copyRun writes n bytes as copies at distance dist (n >= 3), in matches
// of at most 258 bytes none shorter than 3.
func (w *bitWriter) copyRun(f *fixedCodes, n, dist int) {
	for n > 0 {
		l := min(n, maxMatch)
		if r := n - l; r > 0 && r < 3 {
			l -= 3 - r
		}
		w.match(f, l, dist)
		n -= l
	}
}

// bitString is a stream of bits, LSB first: whole 32-bit words, then
// tailN more bits.
type bitString struct {
	words []uint32
	tail  uint32
	tailN uint8
}

// take returns what w holds as a bitString and empties w.
func (w *bitWriter) take() bitString {
	b := bitString{words: make([]uint32, len(w.out)/4), tail: uint32(w.acc), tailN: uint8(w.nbits)}
	for i := range b.words {
		b.words[i] = binary.LittleEndian.Uint32(w.out[4*i:])
	}
	*w = bitWriter{out: w.out[:0]}
	return b
}

func (w *bitWriter) appendBits(b bitString) {
	// w holds fewer than 32 pending bits: each word completes one output word
	out := slices.Grow(w.out, 4*len(b.words))
	acc, n := w.acc, w.nbits
	for _, x := range b.words {
		acc |= uint64(x) << n
		out = binary.LittleEndian.AppendUint32(out, uint32(acc))
		acc >>= 32
	}
	w.out, w.acc = out, acc
	w.bits(uint64(b.tail), uint(b.tailN))
}

// carryCode is the DEFLATE bit stream of a template expanded with a query
// of a given length, which depends on the query only where its bytes are
// written as literals (the first occurrence, and any after a gap longer
// than the window): segs are the bits between those holes. Tokens of one
// issuer have one length, so a template's carryCode serves every player.
type carryCode struct {
	segs []bitString // len(holes)+1
}

// code returns the template's bit stream for queries of lq bytes ("?"
// included), from the pieces of encode.
func (lz *lzTemplate) code(f *fixedCodes, data []byte, cuts []int32, lq int) *carryCode {
	cc := &carryCode{}
	var w bitWriter
	w.bits(1|1<<1, 3) // BFINAL, BTYPE=01 fixed Huffman (§3.2.3)
	prevQ := -1       // where the previous Q starts in the expanded text
	out := 0          // bytes of expanded text so far
	for s, ps := range lz.pieces {
		for i := range ps {
			p := &ps[i]
			if t := p.tok; t.k > 0 {
				d := int(t.dist) + int(t.k)*lq
				if d > maxDistance {
					w.literals(f, data[t.pos:int(t.pos)+int(t.n)])
				} else {
					w.match(f, int(t.n), d)
				}
				continue
			}
			w.appendBits(bitString{words: p.words, tail: p.tail, tailN: p.tailN})
		}
		start := 0
		if s > 0 {
			start = int(cuts[s-1])
		}
		end := len(data)
		if s < len(cuts) {
			end = int(cuts[s])
		}
		out += end - start
		if s == len(cuts) {
			break
		}
		if prevQ < 0 || out-prevQ > maxDistance || lq < 3 {
			cc.segs = append(cc.segs, w.take()) // a hole: Q as literals
		} else {
			w.copyRun(f, lq, out-prevQ)
		}
		prevQ = out
		out += lq
	}
	w.bits(uint64(f.lit[256]), uint(f.litN[256])) // end of block
	cc.segs = append(cc.segs, w.take())
	return cc
}

// gzipCarry returns the gzip (RFC 1952) of data with "?"+q inserted at
// every cut, from the template's bit stream cc for queries of that length.
// The CRC-32 of the expanded text comes from plan when there is one, else
// it is computed over pieces of the text expanded in scratch: CRC-32 over
// contiguous bytes is several times faster than over each fragment and
// query, and a small buffer stays in the CPU cache.
func gzipCarry(f *fixedCodes, data []byte, cuts []int32, cc *carryCode, plan *crcPlan, q string, scratch []byte) []byte {
	lq := 1 + len(q)
	size := 18 + (len(cc.segs)-1)*lq*9/8
	for _, sg := range cc.segs {
		size += 4*len(sg.words) + 4
	}
	w := bitWriter{out: make([]byte, 0, size)}
	// gzip header: ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=0 OS=255 (§2.3.1)
	w.out = append(w.out, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255)
	buf := append(scratch[:0], '?')
	buf = append(buf, q...)
	qb := buf[:lq:lq] // Q, kept at the start of the scratch buffer
	for i, sg := range cc.segs {
		if i > 0 {
			w.literals(f, qb)
		}
		w.appendBits(sg)
	}
	w.flush()
	if plan != nil {
		w.out = binary.LittleEndian.AppendUint32(w.out, plan.crc(qb))
		w.out = binary.LittleEndian.AppendUint32(w.out, uint32(len(data)+len(cuts)*lq))
		return w.out
	}
	// CRC-32 of the expanded text
	crc := uint32(0)
	buf = buf[lq:]
	prev := 0
	for _, c := range cuts {
		buf = append(buf, data[prev:c]...)
		buf = append(buf, qb...)
		prev = int(c)
		if len(buf) >= crcChunk {
			crc = crc32.Update(crc, crc32.IEEETable, buf)
			buf = buf[:0]
		}
	}
	buf = append(buf, data[prev:]...)
	crc = crc32.Update(crc, crc32.IEEETable, buf)
	w.out = binary.LittleEndian.AppendUint32(w.out, crc)
	w.out = binary.LittleEndian.AppendUint32(w.out, uint32(len(data)+len(cuts)*lq))
	return w.out
}

// crcChunk is how much expanded text gzipCarry gathers per CRC-32 update.
const crcChunk = 8 << 10

// crcPlan gives the CRC-32 (RFC 1952 §8) of a template expanded with any
// query of one length without reading the text. The CRC register is
// linear in the initial value and the bytes together, so the register
// after the text is the register after the text with zeros in place of
// every Q (reg), XOR the contribution of the Q bytes, which is
// sum_i S^(bytes after slot i) applied to the register of Q alone from
// zero (S: one zero byte through the register). That sum is a 32x32 bit
// matrix (cols), computed once; a request then runs the CRC over its Q
// only (a few hundred bytes) and one matrix product.
type crcPlan struct {
	reg  uint32
	cols [32]uint32
}

// newCRCPlan builds the plan of data with queries of lq bytes at cuts
// (len(cuts) > 0): about 32 CRC passes over the text's length.
func newCRCPlan(data []byte, cuts []int32, lq int) *crcPlan {
	zeros := make([]byte, 4096)
	adv := func(pub uint32, n int) uint32 { // pub: crc32 package convention
		for n > 0 {
			k := min(n, len(zeros))
			pub = crc32.Update(pub, crc32.IEEETable, zeros[:k])
			n -= k
		}
		return pub
	}
	frag := func(i int) int { // length of the fragment after cut i-1
		start, end := 0, len(data)
		if i > 0 {
			start = int(cuts[i-1])
		}
		if i < len(cuts) {
			end = int(cuts[i])
		}
		return end - start
	}
	p := &crcPlan{}
	pub := uint32(0)
	prev := 0
	for _, c := range cuts {
		pub = crc32.Update(pub, crc32.IEEETable, data[prev:c])
		pub = adv(pub, lq)
		prev = int(c)
	}
	pub = crc32.Update(pub, crc32.IEEETable, data[prev:])
	p.reg = ^pub
	n := len(cuts)
	for j := range 32 {
		v := uint32(1) << j
		s := uint32(0) // register
		for i := 0; i < n; i++ {
			s ^= v // the end of slot i
			m := frag(i + 1)
			if i+1 < n {
				m += lq
			}
			s = ^adv(^s, m)
		}
		p.cols[j] = s
	}
	return p
}

// crc returns the CRC-32 of the text expanded with qb ("?"+query).
func (p *crcPlan) crc(qb []byte) uint32 {
	r := ^crc32.Update(0xffffffff, crc32.IEEETable, qb) // register of qb from zero
	x := p.reg
	for j := 0; r != 0; j++ {
		if r&1 != 0 {
			x ^= p.cols[j]
		}
		r >>= 1
	}
	return ^x
}
