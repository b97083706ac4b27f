// Copyright 2021 FerretDB Inc.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package sjson

// This file is not part of upstream FerretDB v1.24.2; see PATCHES.md at the module's root.

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/internal/types"
)

// randomValue returns a random value of any type sjson stores, nested to depth.
func randomValue(r *rand.Rand, depth int) any {
	n := 13
	if depth <= 0 {
		n = 11
	}

	switch r.IntN(n) {
	case 0:
		return randomString(r)
	case 1:
		return []int32{0, 1, -1, 42, math.MaxInt32, math.MinInt32, r.Int32(), -r.Int32()}[r.IntN(8)]
	case 2:
		return []int64{0, -1, 1 << 53, math.MaxInt64, math.MinInt64, r.Int64(), -r.Int64()}[r.IntN(7)]
	case 3:
		return []float64{0, math.Copysign(0, -1), 1.5, -2.25, 1e21, 1e-7, 5e-324, math.MaxFloat64, -math.MaxFloat64, 1 << 60, float64(r.Int64()), r.NormFloat64() * 1e6}[r.IntN(12)]
	case 4:
		return r.IntN(2) == 0
	case 5:
		return time.UnixMilli([]int64{0, -1, 1790000000123, r.Int64N(1 << 45), -r.Int64N(1 << 45)}[r.IntN(5)])
	case 6:
		return types.Null
	case 7:
		var id types.ObjectID
		for i := range id {
			id[i] = byte(r.IntN(256))
		}

		return id
	case 8:
		return types.Binary{B: []byte(randomString(r)), Subtype: types.BinarySubtype(r.IntN(9))}
	case 9:
		return types.Regex{Pattern: randomString(r), Options: []string{"", "i", "ms"}[r.IntN(3)]}
	case 10:
		return types.Timestamp(r.Uint64() >> 1)
	case 11:
		return randomDocument(r, depth-1)
	default:
		a := types.MakeArray(3)
		for range r.IntN(4) {
			a.Append(randomValue(r, depth-1))
		}

		return a
	}
}

// randomString returns plain text, text that JSON escapes, control characters, non-ASCII
// text and invalid UTF-8.
func randomString(r *rand.Rand) string {
	parts := []string{"", "a", "tenant-0001", "é", "日本", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\u2028", "<>&", "\xff", "\xc3", "🙂", " "}

	var s string
	for range r.IntN(6) {
		s += parts[r.IntN(len(parts))]
	}

	return s
}

// randomDocument returns a document of random keys and values, nested to depth.
func randomDocument(r *rand.Rand, depth int) *types.Document {
	keys := []string{"_id", "a", "b", "tenantId", "createdAt", "é", "with space", "q\"uote", "back\\slash", "ctl\x01", "bad\xff", "s"}
	d := types.MakeDocument(4)

	for range r.IntN(8) {
		d.Set(keys[r.IntN(len(keys))], randomValue(r, depth))
	}

	return d
}

// unmarshalBoth decodes data as the patched Unmarshal does and as upstream does.
func unmarshalBoth(t *testing.T, data []byte) (fast, upstream *types.Document, fastErr, upstreamErr error) {
	t.Helper()

	fast, fastErr = Unmarshal(data)

	upstreamDecoding = true
	defer func() { upstreamDecoding = false }()

	upstream, upstreamErr = Unmarshal(data)

	return
}

// TestFastUnmarshalEqualsUpstream checks that Unmarshal (fast.go) decodes random documents,
// and random corruptions of them, exactly as upstream's decoding does: the same documents,
// or an error from both.
func TestFastUnmarshalEqualsUpstream(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))

	var decoded, corruptOK, corruptErr int

	for i := range 3000 {
		doc := randomDocument(r, 3)

		data, err := Marshal(doc)
		if err != nil {
			continue // for example a key sjson cannot store
		}

		fast, upstream, fastErr, upstreamErr := unmarshalBoth(t, data)
		if (fastErr == nil) != (upstreamErr == nil) {
			t.Fatalf("document %d: %s: fast error %v, upstream error %v", i, data, fastErr, upstreamErr)
		}

		if fastErr != nil {
			continue // upstream's Marshal writes some keys it cannot read (a top-level key with a backslash)
		}

		if !types.Identical(fast, upstream) {
			t.Fatalf("document %d: %s:\nfast     %s\nupstream %s", i, data, types.FormatAnyValue(fast), types.FormatAnyValue(upstream))
		}

		decoded++

		// The same text, corrupted: a byte changed, inserted or removed, or whitespace
		// added, which the fast path must either decode as upstream does or leave to it.
		for range 10 {
			bad := []byte(string(data))
			pos := r.IntN(len(bad))
			b := []byte(`"\{}[],: 0123456789.eE+-tfnx` + "\x01\xff\n ")[r.IntN(32)]

			switch r.IntN(4) {
			case 0:
				bad[pos] = b
			case 1:
				bad = append(bad[:pos], append([]byte{b}, bad[pos:]...)...)
			case 2:
				bad = append(bad[:pos], bad[pos+1:]...)
			default:
				bad = append(bad, ' ')
			}

			fast, upstream, fastErr, upstreamErr := unmarshalBoth(t, bad)
			if (fastErr == nil) != (upstreamErr == nil) {
				t.Fatalf("corrupted %q: fast error %v, upstream error %v", bad, fastErr, upstreamErr)
			}

			if fastErr != nil {
				corruptErr++
				continue
			}

			if !types.Identical(fast, upstream) {
				t.Fatalf("corrupted %q:\nfast     %s\nupstream %s", bad, types.FormatAnyValue(fast), types.FormatAnyValue(upstream))
			}

			corruptOK++
		}
	}

	t.Logf("%d documents, %d corruptions decoded alike, %d refused by both", decoded, corruptOK, corruptErr)

	if decoded < 1000 || corruptOK < 100 || corruptErr < 1000 {
		t.Fatalf("too few cases: %d documents, %d corruptions decoded, %d refused", decoded, corruptOK, corruptErr)
	}
}

// TestFastScalarForms tables the texts fastScalar decodes itself and those it leaves to
// the types' UnmarshalJSON.
func TestFastScalarForms(t *testing.T) {
	for _, tc := range []struct {
		data string
		t    elemType
		want any // nil: left to UnmarshalJSON
	}{
		{`"abc"`, elemTypeString, "abc"},
		{`""`, elemTypeString, ""},
		{`"é"`, elemTypeString, "é"},
		{`"a\"b"`, elemTypeString, nil},
		{`"a\u0041"`, elemTypeString, nil},
		{"\"\x01\"", elemTypeString, nil},
		{"\"\xff\"", elemTypeString, nil},
		{`abc`, elemTypeString, nil},
		{`42`, elemTypeInt, int32(42)},
		{`-2147483648`, elemTypeInt, int32(math.MinInt32)},
		{`2147483648`, elemTypeInt, nil},
		{`042`, elemTypeInt, nil},
		{`+1`, elemTypeInt, nil},
		{`1.0`, elemTypeInt, nil},
		{`-`, elemTypeInt, nil},
		{`9223372036854775807`, elemTypeLong, int64(math.MaxInt64)},
		{`9223372036854775808`, elemTypeLong, nil},
		{`1790000000123`, elemTypeDate, time.UnixMilli(1790000000123)},
		{`true`, elemTypeBool, true},
		{`false`, elemTypeBool, false},
		{`True`, elemTypeBool, nil},
		{`1.5`, elemTypeDouble, 1.5},
		{`-0`, elemTypeDouble, math.Copysign(0, -1)},
		{`1e+21`, elemTypeDouble, 1e21},
		{`1e400`, elemTypeDouble, nil},
		{`.5`, elemTypeDouble, nil},
		{`5.`, elemTypeDouble, nil},
		{`0x10`, elemTypeDouble, nil},
		{`Infinity`, elemTypeDouble, nil},
		{`"507f1f77bcf86cd799439011"`, elemTypeObjectID, nil},
	} {
		got, ok := fastScalar([]byte(tc.data), tc.t)
		if tc.want == nil {
			if ok {
				t.Errorf("fastScalar(%s, %s) = %v, want it left to UnmarshalJSON", tc.data, tc.t, got)
			}

			continue
		}

		if !ok || !types.Identical(got, tc.want) {
			t.Errorf("fastScalar(%s, %s) = %v, %v; want %v", tc.data, tc.t, got, ok, tc.want)
		}
	}
}

// TestScanObject tables the objects scanObject splits itself, as json.Unmarshal would,
// and those it leaves to json.Unmarshal.
func TestScanObject(t *testing.T) {
	for _, tc := range []struct {
		data string
		ok   bool
	}{
		{`{}`, true},
		{` { } `, false}, // trailing whitespace: left to json.Unmarshal (decodeObject leaves it to the Decoder)
		{`{"a":1,"b":"x\"}","c":{"d":[1,{"e":"]"}]},"f":[],"g":null,"h":true}`, true},
		{`{ "a" : -1.5e3 , "b" : "é" }`, true},
		{`{"a\u0041":1}`, false},
		{`{"a":1,"a":2}`, false},
		{`{"a":1}x`, false},
		{`{"a":"x` + "\x01" + `"}`, false},
		{`{"a" 1}`, false},
		{`{"a":1,}`, false},
		{`{"a":}`, false},
		{`{"a":{"b":1}`, false},
		{"{\"\xff\":1}", false},
	} {
		got, ok := scanObject([]byte(tc.data))
		if ok != tc.ok {
			t.Errorf("scanObject(%s): %v, want %v", tc.data, ok, tc.ok)
			continue
		}

		if !ok {
			continue
		}

		var want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(tc.data), &want); err != nil {
			t.Fatalf("%s: %v", tc.data, err)
		}

		if len(got) != len(want) {
			t.Errorf("scanObject(%s) = %q, want %q", tc.data, got, want)
		}

		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Errorf("scanObject(%s)[%q] = %s, want %s", tc.data, k, got[k], v)
			}
		}
	}
}
