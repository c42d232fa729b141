package main

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// plotYs returns every y coordinate a chart draws data at: polyline
// points, point markers and the top and bottom of each bar.
func plotYs(t require.TestingT, svg string) []float64 {
	var ys []float64
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		return f
	}
	for _, m := range regexp.MustCompile(`points="([^"]*)"`).FindAllStringSubmatch(svg, -1) {
		for _, pt := range strings.Fields(m[1]) {
			_, y, ok := strings.Cut(pt, ",")
			require.True(t, ok, pt)
			ys = append(ys, num(y))
		}
	}
	for _, m := range regexp.MustCompile(`cy="([^"]*)"`).FindAllStringSubmatch(svg, -1) {
		ys = append(ys, num(m[1]))
	}
	for _, m := range regexp.MustCompile(`<rect x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)" fill="[^"]*"><title>`).FindAllStringSubmatch(svg, -1) {
		top := num(m[1])
		ys = append(ys, top, top+num(m[2]))
	}
	return ys
}

// requireInsidePlot fails when a data point lies outside the plot area,
// which is what a browser cuts off (or draws over the title).
func requireInsidePlot(t require.TestingT, svg string, points int) {
	ys := plotYs(t, svg)
	require.GreaterOrEqual(t, len(ys), points)
	const eps = 0.051 // coordinates are printed with one decimal
	for _, y := range ys {
		require.GreaterOrEqual(t, y, marginT-eps, "a point above the plot area")
		require.LessOrEqual(t, y, marginT+plotH+eps, "a point below the plot area")
	}
}

// A line that rose past the last tick was drawn above the plot area: the
// ticks stopped half a step short of the top value (0..110,000 had its
// last tick at 100,000; the RUBY "referral out" line of a 20,000-member
// run was cut off by it).
func TestLineChartFitsTopValue(t *testing.T) {
	labels := []string{"d1", "d2", "d3"}
	for _, vals := range [][]float64{{0, 110000, 5}, {0, 1.1, 0.5}, {-3, -110000, 7}, {1e9 + 1, 2e9 + 3, 0}} {
		svg := lineChart("t", "u", labels, []series{{Name: "s", Values: vals}})
		requireInsidePlot(t, svg, 6)
		_, y := yScale(math.Min(0, minOf(vals)), math.Max(0, maxOf(vals)))
		for _, v := range vals {
			require.GreaterOrEqual(t, y(v), float64(marginT))
			require.LessOrEqual(t, y(v), float64(marginT+plotH))
		}
	}
}

func minOf(vs []float64) float64 {
	m := math.Inf(1)
	for _, v := range vs {
		m = math.Min(m, v)
	}
	return m
}

func maxOf(vs []float64) float64 {
	m := math.Inf(-1)
	for _, v := range vs {
		m = math.Max(m, v)
	}
	return m
}

// Every value of every series, at any magnitude, lands inside the plot
// area of a line chart and a stacked bar chart.
// A range far narrower than its values gets a few ticks, not an endless
// loop over indexes past 2^53 (rapid once drew lo 5e11 with a span of
// 1e-7 of it).
func TestTicksOfANarrowRangeEnd(t *testing.T) {
	for _, c := range [][2]float64{{5e11, 5e11 + 1e-3}, {-1e12, -1e12 + 1e-4}, {1, 1 + 1e-15}, {0.001, 0.0010000001}} {
		ticks := niceTicks(c[0], c[1])
		require.LessOrEqual(t, len(ticks), maxTicks+2, "%v", c)
		require.LessOrEqual(t, ticks[0], c[0])
		require.GreaterOrEqual(t, ticks[len(ticks)-1], c[1])
		require.Less(t, ticks[0], ticks[len(ticks)-1])
	}
}

func TestChartsFitEveryValue(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		days := rapid.IntRange(1, 15).Draw(t, "days")
		scale := math.Pow(10, float64(rapid.IntRange(-3, 12).Draw(t, "magnitude")))
		labels := make([]string, days)
		for i := range labels {
			labels[i] = "d" + strconv.Itoa(i)
		}
		n := rapid.IntRange(1, 5).Draw(t, "series")
		var lines, bars []series
		for i := 0; i < n; i++ {
			vals := make([]float64, days)
			pos := make([]float64, days)
			for j := range vals {
				vals[j] = math.Round(rapid.Float64Range(-1, 1).Draw(t, "v")*scale*100) / 100
				pos[j] = math.Abs(vals[j])
			}
			lines = append(lines, series{Name: "s", Values: vals})
			bars = append(bars, series{Name: "s", Values: pos})
		}
		requireInsidePlot(t, lineChart("t", "u", labels, lines), n*days)
		requireInsidePlot(t, stackedBarChart("t", "u", labels, bars), 0)

		lo := rapid.Float64Range(-1, 1).Draw(t, "lo") * scale
		hi := lo + rapid.Float64Range(0, 2).Draw(t, "span")*scale
		ticks, y := yScale(lo, hi)
		require.LessOrEqual(t, ticks[0], lo)
		require.GreaterOrEqual(t, ticks[len(ticks)-1], hi)
		require.LessOrEqual(t, len(ticks), maxTicks+2)
		require.InDelta(t, float64(marginT), y(ticks[len(ticks)-1]), 1e-6)
		require.InDelta(t, float64(marginT+plotH), y(ticks[0]), 1e-6)
	})
}
