// SPDX-License-Identifier: MIT

package usage

import (
	"slices"
	"testing"
	"time"
)

func TestEncodeDecode(t *testing.T) {
	recs := []record{
		{Name: "cell", DayStart: at("2025-11-23 00:00:00"), MonthStart: at("2025-11-15 00:00:00"), BytesToday: 1 << 62, BytesMonth: 1<<64 - 1},
		{Name: "wan1", DayStart: at("2025-11-23 00:00:00").UTC(), MonthStart: at("2025-11-01 00:00:00"), BytesToday: 0, BytesMonth: 7},
	}
	b, err := encode(recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !slices.EqualFunc(got, recs, record.equal) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, recs)
	}
	if empty, err := encode(nil); err != nil || string(empty) != "{\n  \"version\": 1,\n  \"uplinks\": []\n}\n" {
		t.Errorf("empty file %q, %v", empty, err)
	}
	if _, err := encode([]record{{Name: "x", DayStart: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}); err == nil {
		t.Error("encoded the year 10000")
	}
}

// FuzzLoad: the decoder never panics; what it accepts survives a round
// trip through encode, and restores into Meters whose day is within their
// month.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"version": 1, "uplinks": [{"name": "wan1", "day_start": "2025-11-23T00:00:00+02:00", "month_start": "2025-11-01T00:00:00+02:00", "bytes_today": 1, "bytes_month": 2}]}`))
	f.Add([]byte(`{"version": 1, "uplinks": []}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`{"Version": 1, "uplinks": null}`))
	f.Add([]byte(`{"version": 1, "uplinks": [{"name": "a", "day_start": "9999-12-31T23:59:59+23:00", "month_start": "0000-01-01T00:00:00Z", "bytes_today": 18446744073709551615, "bytes_month": 0}]}`))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decode(b)
		if err != nil {
			if recs != nil {
				t.Fatal("records with an error")
			}
			return
		}
		enc, err := encode(recs)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", recs, err)
		}
		again, err := decode(enc)
		if err != nil || !slices.EqualFunc(again, recs, record.equal) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, again, recs)
		}
		now := time.Date(2025, 11, 23, 12, 0, 0, 0, time.UTC)
		s := newStore(Options{Now: func() time.Time { return now }, Location: time.UTC})
		s.load(recs)
		for i, r := range recs {
			m := s.Meter(r.Name, Caps{Daily: 1000, Monthly: 5000, ResetDay: i % 30})
			m.Add(uint64(i))
			if day, month := m.Usage(); day > month {
				t.Fatalf("%s: day %d > month %d", r.Name, day, month)
			}
		}
		s.Tick()
		if _, err := encode(s.records()); err != nil {
			t.Fatalf("cannot encode the restored store: %v", err)
		}
	})
}
