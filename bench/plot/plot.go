// SPDX-License-Identifier: MIT

// Package plot draws the benchmark harness's timeline charts as PNG with
// the standard library only (image, image/png) and a built-in 5×7 pixel
// font: a few lines over time, a legend, axis ticks and vertical event
// marks. It has no state; Chart values are plain data. Part of the
// benchmark harness; nothing outside bench imports it.
package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
)

// Line is one data series, sampled every Step seconds from 0.
type Line struct {
	Name   string
	Step   float64 // seconds between values
	Values []float64
}

// Mark is a vertical line at X seconds with a label.
type Mark struct {
	X     float64
	Label string
}

// Chart is a line chart.
type Chart struct {
	Title  string
	YLabel string
	Lines  []Line
	Marks  []Mark
	W, H   int // pixels (default 1000×500)
}

// Palette: the first line is black (totals go first), then distinct
// colours.
func palette(i int) color.RGBA {
	p := []color.RGBA{{0, 0, 0, 255}, {31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255},
		{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}}
	return p[i%len(p)]
}

const (
	scale               = 2 // font pixel size
	charW, charH        = 6 * scale, 8 * scale
	left, right, top, b = 90, 30, 50, 60
)

// PNG renders the chart.
func (c Chart) PNG(w io.Writer) error {
	W, H := c.W, c.H
	if W <= 0 || H <= 0 {
		W, H = 1000, 500
	}
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	pw, ph := W-left-right, H-top-b
	if pw < 50 || ph < 50 {
		return fmt.Errorf("plot: %d×%d is too small", W, H)
	}
	var maxX, maxY float64
	for _, l := range c.Lines {
		maxX = max(maxX, l.Step*float64(len(l.Values)))
		for _, v := range l.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				maxY = max(maxY, v)
			}
		}
	}
	for _, m := range c.Marks {
		maxX = max(maxX, m.X)
	}
	maxX = max(maxX, 1)
	ystep := niceStep(max(maxY, 1) / 5)
	maxY = ystep * math.Ceil(max(maxY, 1)/ystep)
	xstep := niceStep(maxX / 10)
	px := func(x float64) int { return left + int(x/maxX*float64(pw)) }
	py := func(y float64) int { return top + ph - int(y/maxY*float64(ph)) }
	grid := color.RGBA{225, 225, 225, 255}
	ink := color.RGBA{40, 40, 40, 255}
	for y := 0.0; y <= maxY+ystep/2; y += ystep {
		hline(img, left, left+pw, py(y), grid)
		s := trimFloat(y)
		text(img, left-8-len(s)*charW, py(y)-charH/2, s, ink)
	}
	for x := 0.0; x <= maxX+xstep/2; x += xstep {
		vline(img, px(x), top, top+ph, grid)
		s := trimFloat(x)
		text(img, px(x)-len(s)*charW/2, top+ph+8, s, ink)
	}
	hline(img, left, left+pw, top+ph, ink)
	vline(img, left, top, top+ph, ink)
	text(img, left+pw/2-3*charW, H-charH-6, "TIME S", ink)
	text(img, 8, top-charH-8, c.YLabel, ink)
	text(img, left, 10, c.Title, ink)
	red := color.RGBA{214, 39, 40, 255}
	for _, m := range c.Marks {
		x := px(m.X)
		for y := top; y < top+ph; y += 6 {
			vline(img, x, y, min(y+3, top+ph), red)
		}
		text(img, x+4, top+4, m.Label, red)
	}
	for i, l := range c.Lines {
		col := palette(i)
		prevX, prevY := -1, -1
		for j, v := range l.Values {
			if math.IsNaN(v) {
				prevX = -1
				continue
			}
			x, y := px(l.Step*(float64(j)+0.5)), py(v)
			if prevX >= 0 {
				line(img, prevX, prevY, x, y, col)
				line(img, prevX, prevY+1, x, y+1, col)
			}
			prevX, prevY = x, y
		}
		// Legend, top right.
		ly := top + 8 + i*(charH+6)
		lx := left + pw - 16*charW
		fill(img, image.Rect(lx, ly+2, lx+charW*2, ly+charH-2), col)
		text(img, lx+charW*3, ly, l.Name, col)
	}
	return png.Encode(w, img)
}

// niceStep rounds v up to 1, 2 or 5 × 10^k.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// line draws with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// text draws s with its top-left corner at (x, y).
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		g := glyph(r)
		for row := range 7 {
			for col := range 5 {
				if g[row]&(1<<(4-col)) != 0 {
					fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
		x += charW
	}
}
