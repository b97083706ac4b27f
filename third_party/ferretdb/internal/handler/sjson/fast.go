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
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// decodedDocuments counts the documents Unmarshal has decoded (DecodedDocuments).
var decodedDocuments atomic.Int64

// DecodedDocuments is how many stored documents this process has decoded: every row a
// query's backend returns is decoded before the handler filters it, so tests bound what a
// query reads with it.
func DecodedDocuments() int64 {
	return decodedDocuments.Load()
}

// upstreamDecoding, set by tests only, makes Unmarshal decode as upstream does: a
// json.Decoder for the document, one for its schema and one for every value.
var upstreamDecoding bool

// decodeObject decodes a JSON object into its members' raw values, as upstream's
// json.Decoder followed by checkConsumed does, but with one json.Unmarshal: a Decoder
// allocates and grows a read buffer for every call (most of a document's decoding time).
// The two differ only on trailing whitespace, which the Decoder refuses (checkConsumed)
// and json.Unmarshal accepts, so data that does not end with '}' is left to the Decoder.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	if upstreamDecoding || len(data) == 0 || data[len(data)-1] != '}' {
		r := bytes.NewReader(data)
		dec := json.NewDecoder(r)

		var v map[string]json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, lazyerrors.Error(err)
		}

		if err := checkConsumed(dec, r); err != nil {
			return nil, lazyerrors.Error(err)
		}

		return v, nil
	}

	if v, ok := scanObject(data); ok {
		return v, nil
	}

	var v map[string]json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, lazyerrors.Error(err)
	}

	return v, nil
}

// scanObject splits the text of a JSON object into its members' raw values, without
// copying them, as json.Unmarshal into a map of json.RawMessage does for valid JSON, or
// reports false (escaped, invalid UTF-8 or duplicate keys, text it cannot delimit, or
// anything after the object), leaving the text to json.Unmarshal. It delimits the values
// without validating them: each one is decoded after it with its schema's type, and that
// validates it (fastScalar, the types' UnmarshalJSON, decodeObject for a document), so
// text json.Unmarshal refuses is still refused.
func scanObject(data []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}

	m := make(map[string]json.RawMessage, 16)

	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return m, i+1 == len(data)
	}

	for {
		end := skipString(data, i)
		if end < 0 {
			return nil, false
		}

		key, ok := plainJSONString(data[i:end])
		if !ok {
			return nil, false
		}

		if _, dup := m[key]; dup {
			return nil, false
		}

		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}

		start := skipSpace(data, i+1)

		end = skipValue(data, start)
		if end < 0 {
			return nil, false
		}

		m[key] = json.RawMessage(data[start:end])

		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, false
		}

		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return m, i+1 == len(data)
		default:
			return nil, false
		}
	}
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}

	return i
}

// skipString returns the index after the JSON string starting at i, or -1.
func skipString(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}

	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '\\':
			j++
		case c == '"':
			return j + 1
		case c < 0x20:
			return -1
		}
	}

	return -1
}

// skipValue returns the index after the JSON value starting at i, or -1: a string, an
// object or array up to its matching bracket (strings inside skipped), or a literal or
// number up to the next delimiter.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}

	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0

		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end := skipString(data, j)
				if end < 0 {
					return -1
				}

				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}

		return -1
	case ',', ':', '}', ']':
		return -1
	}

	j := i
	for j < len(data) && !strings.ContainsRune(",:{}[]\" \t\n\r", rune(data[j])) {
		j++
	}

	return j
}

// maxCachedSchemas bounds schemaCache: the schemas of a collection's documents are few
// (one per combination of fields and types), and past the bound decoding works as before.
const maxCachedSchemas = 4096

// schemaCache holds decoded schemas by their JSON text. A schema is only read once
// decoded, so documents of the same shape share one.
var schemaCache = struct {
	sync.RWMutex
	m map[string]*schema
}{m: make(map[string]*schema)}

// decodeSchema decodes a document's schema (its `$s` field) as upstream does, or returns
// the one decoded before from the same text.
func decodeSchema(data []byte) (*schema, error) {
	if !upstreamDecoding {
		schemaCache.RLock()
		sch := schemaCache.m[string(data)]
		schemaCache.RUnlock()

		if sch != nil {
			return sch, nil
		}
	}

	sch := new(schema)
	r := bytes.NewReader(data)
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()

	if err := dec.Decode(sch); err != nil {
		return nil, lazyerrors.Error(err)
	}

	if err := checkConsumed(dec, r); err != nil {
		return nil, lazyerrors.Error(err)
	}

	if !upstreamDecoding {
		schemaCache.Lock()
		if len(schemaCache.m) < maxCachedSchemas {
			schemaCache.m[string(data)] = sch
		}
		schemaCache.Unlock()
	}

	return sch, nil
}

// fastScalar decodes the JSON text of a string, a 32- or 64-bit integer, a date, a
// boolean or a double without a json.Decoder, and reports false for anything else and for
// any text it is not sure to decode exactly as the type's UnmarshalJSON does (escapes in
// strings, numbers outside JSON's grammar or range, ...), which is then decoded by it.
func fastScalar(data []byte, t elemType) (any, bool) {
	if upstreamDecoding {
		return nil, false
	}

	switch t {
	case elemTypeString:
		return plainJSONString(data)
	case elemTypeInt:
		if !jsonInteger(data) {
			return nil, false
		}

		i, err := strconv.ParseInt(string(data), 10, 32)

		return int32(i), err == nil
	case elemTypeLong:
		if !jsonInteger(data) {
			return nil, false
		}

		i, err := strconv.ParseInt(string(data), 10, 64)

		return i, err == nil
	case elemTypeDate:
		if !jsonInteger(data) {
			return nil, false
		}

		i, err := strconv.ParseInt(string(data), 10, 64)

		return time.UnixMilli(i), err == nil
	case elemTypeBool:
		switch string(data) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	case elemTypeDouble:
		if !jsonNumber(data) {
			return nil, false
		}

		f, err := strconv.ParseFloat(string(data), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, false
		}

		return f, true
	}

	return nil, false
}

// plainJSONString returns the string a JSON string literal without escapes holds: its
// bytes, when they are valid UTF-8 with no control character (encoding/json refuses
// those and replaces invalid UTF-8).
func plainJSONString(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}

	s := data[1 : len(data)-1]
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}

	if !utf8.Valid(s) {
		return "", false
	}

	return string(s), true
}

// jsonInteger reports whether data is a JSON number without fraction or exponent:
// -?(0|[1-9][0-9]*).
func jsonInteger(data []byte) bool {
	if len(data) > 0 && data[0] == '-' {
		data = data[1:]
	}

	if len(data) == 0 || (data[0] == '0' && len(data) > 1) {
		return false
	}

	for _, c := range data {
		if c < '0' || c > '9' {
			return false
		}
	}

	return true
}

// jsonNumber reports whether data is a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func jsonNumber(data []byte) bool {
	i := 0
	if i < len(data) && data[i] == '-' {
		i++
	}

	digits := func() int {
		n := 0
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
			n++
		}

		return n
	}

	start := i
	if n := digits(); n == 0 || (n > 1 && data[start] == '0') {
		return false
	}

	if i < len(data) && data[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}

	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}

		if digits() == 0 {
			return false
		}
	}

	return i == len(data)
}
