// SPDX-License-Identifier: MIT

package plot

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

func TestPNG(t *testing.T) {
	var tot, a, b []float64
	for i := range 150 {
		x := float64(i) / 10
		v := 40 + 5*math.Sin(x)
		if x > 5 && x < 5.4 {
			v = 0
		}
		a = append(a, v)
		b = append(b, 50-v/2)
		tot = append(tot, v+50-v/2)
	}
	tests := []struct {
		name string
		c    Chart
	}{
		{name: "lines and marks", c: Chart{Title: "failover-blackhole monami", YLabel: "Mbit/s",
			Lines: []Line{{"total", 0.1, tot}, {"wan1", 0.1, a}, {"wan2", 0.1, b}}, Marks: []Mark{{5, "wan1 down"}}}},
		{name: "empty", c: Chart{Title: "nothing"}},
		{name: "nan values", c: Chart{Lines: []Line{{"x", 1, []float64{1, math.NaN(), 3}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.c.PNG(&buf); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Dx() != 1000 || img.Bounds().Dy() != 500 {
				t.Errorf("size %v", img.Bounds())
			}
		})
	}
	if err := (Chart{W: 10, H: 10}).PNG(&bytes.Buffer{}); err == nil {
		t.Error("tiny chart accepted")
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.7, 1}, {1.3, 2}, {3, 5}, {7, 10}, {23, 50}, {120, 200}, {0, 1}} {
		if got := niceStep(c.in); got != c.want {
			t.Errorf("niceStep(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
