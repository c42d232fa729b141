package main

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// series is one named line (or bar stack layer) of a chart.
type series struct {
	Name   string
	Values []float64
	Dashed bool
	// Color overrides the palette colour picked by position.
	Color string
}

func (s series) color(i int) string {
	if s.Color != "" {
		return s.Color
	}
	return palette[i%len(palette)]
}

// programColors gives each program one colour in every chart.
var programColors = map[string]string{
	"referral": "#1f77b4", "gifting": "#d62728", "shoutout": "#2ca02c", "subscription": "#ff7f0e",
	"adsbuy": "#9467bd", "payout": "#8c564b", "other": "#7f7f7f",
}

// palette colours series in order; it is chosen to stay distinguishable
// when printed in grey.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

const (
	chartW   = 960
	chartH   = 320
	marginL  = 90
	marginR  = 190
	marginT  = 34
	marginB  = 44
	plotW    = chartW - marginL - marginR
	plotH    = chartH - marginT - marginB
	maxTicks = 6
)

// niceTicks returns round tick values covering [lo, hi]: the first is at
// most lo and the last at least hi, so every value of the chart lies
// between the axis's ends. The ticks are whole multiples of the step,
// computed from integer indexes rather than by adding steps up, so no
// rounding drift leaves the top value above the last tick.
func niceTicks(lo, hi float64) []float64 {
	if lo > hi {
		lo, hi = hi, lo
	}
	if lo == hi {
		lo, hi = math.Min(0, lo), math.Max(0, hi)
		if lo == hi {
			hi = lo + 1
		}
	}
	// A range far narrower than its values (a flat line at a million)
	// would make steps so fine that the tick indexes pass 2^53, where k++
	// no longer changes k: the axis spans at least a millionth of the
	// values' size, so indexes stay small and the loop below ends.
	span := math.Max(hi-lo, math.Max(math.Abs(lo), math.Abs(hi))*1e-6)
	raw := span / float64(maxTicks-1)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	first, last := math.Floor(lo/step), math.Ceil(hi/step)
	// lo/step and hi/step are rounded quotients: widen by one step where
	// the rounded tick falls short of the value it must cover.
	if first*step > lo {
		first--
	}
	if last*step < hi {
		last++
	}
	ticks := make([]float64, 0, int(last-first)+1)
	for k := first; k <= last; k++ {
		ticks = append(ticks, k*step)
	}
	return ticks
}

// formatTick renders an axis value compactly: 1.2M, 35k, 0.5.
func formatTick(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimFloat(v/1e9) + "G"
	case a >= 1e6:
		return trimFloat(v/1e6) + "M"
	case a >= 1e4:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

func trimFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// yScale returns the y axis's ticks for values in [lo, hi] and the
// value→pixel mapping, which puts the first tick at the bottom of the plot
// area and the last at its top: every value in [lo, hi] maps inside
// [marginT, marginT+plotH].
func yScale(lo, hi float64) ([]float64, func(float64) float64) {
	ticks := niceTicks(lo, hi)
	ymin, ymax := ticks[0], ticks[len(ticks)-1]
	return ticks, func(v float64) float64 { return marginT + plotH - (v-ymin)/(ymax-ymin)*plotH }
}

// chartFrame draws the title, axes, grid and x labels, and returns the
// y→pixel mapping.
func chartFrame(b *strings.Builder, title, unit string, labels []string, lo, hi float64) func(float64) float64 {
	ticks, y := yScale(lo, hi)
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`, chartW, chartH)
	fmt.Fprintf(b, `<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`, marginL, html.EscapeString(title))
	if unit != "" {
		fmt.Fprintf(b, `<text x="12" y="%d" font-size="11" fill="#555">%s</text>`, marginT-8, html.EscapeString(unit))
	}
	for _, t := range ticks {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`,
			marginL, marginL+plotW, y(t), y(t), map[bool]string{true: "#888", false: "#e5e5e5"}[t == 0])
		fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#333">%s</text>`, marginL-6, y(t)+4, formatTick(t))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, marginL, marginL, marginT, marginT+plotH)
	every := (len(labels) + 11) / 12
	if every < 1 {
		every = 1
	}
	for i, lb := range labels {
		if i%every != 0 && i != len(labels)-1 {
			continue
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#333">%s</text>`,
			xCenter(i, len(labels)), marginT+plotH+16, html.EscapeString(lb))
	}
	return y
}

// xCenter is the x pixel of the i-th of n categories.
func xCenter(i, n int) float64 {
	return marginL + (float64(i)+0.5)*float64(plotW)/float64(n)
}

func legend(b *strings.Builder, ss []series, square bool) {
	for i, s := range ss {
		c := s.color(i)
		yy := marginT + 6 + i*17
		if yy > chartH-10 {
			fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11" fill="#555">… %d more</text>`, marginL+plotW+14, yy+4, len(ss)-i)
			break
		}
		if square {
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="10" fill="%s"/>`, marginL+plotW+14, yy-5, c)
		} else {
			dash := ""
			if s.Dashed {
				dash = ` stroke-dasharray="5,3"`
			}
			fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`, marginL+plotW+12, marginL+plotW+28, yy, yy, c, dash)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11">%s</text>`, marginL+plotW+34, yy+4, html.EscapeString(s.Name))
	}
}

// lineChart renders series as lines over labelled x categories.
func lineChart(title, unit string, labels []string, ss []series) string {
	lo, hi := 0.0, 0.0
	for _, s := range ss {
		for _, v := range s.Values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	var b strings.Builder
	y := chartFrame(&b, title, unit, labels, lo, hi)
	for i, s := range ss {
		c := s.color(i)
		var pts []string
		for j, v := range s.Values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xCenter(j, len(labels)), y(v)))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5,3"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, c, dash, strings.Join(pts, " "))
		if len(pts) <= 40 {
			for j, v := range s.Values {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s, %s: %s</title></circle>`,
					xCenter(j, len(labels)), y(v), c, html.EscapeString(s.Name), html.EscapeString(labels[j]), trimFloat(v))
			}
		}
	}
	legend(&b, ss, false)
	b.WriteString(`</svg>`)
	return b.String()
}

// stackedBarChart renders series as stacked bars per x category; values
// must be non-negative.
func stackedBarChart(title, unit string, labels []string, ss []series) string {
	hi := 0.0
	for j := range labels {
		sum := 0.0
		for _, s := range ss {
			if v := s.Values[j]; v > 0 {
				sum += v // the bars stack only positive values
			}
		}
		hi = math.Max(hi, sum)
	}
	var b strings.Builder
	y := chartFrame(&b, title, unit, labels, 0, hi)
	bw := float64(plotW) / float64(len(labels)) * 0.7
	for j := range labels {
		base := 0.0
		for i, s := range ss {
			v := s.Values[j]
			if v <= 0 {
				continue
			}
			top := y(base + v)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %s</title></rect>`,
				xCenter(j, len(labels))-bw/2, top, bw, y(base)-top, s.color(i),
				html.EscapeString(s.Name), html.EscapeString(labels[j]), trimFloat(v))
			base += v
		}
	}
	legend(&b, ss, true)
	b.WriteString(`</svg>`)
	return b.String()
}
