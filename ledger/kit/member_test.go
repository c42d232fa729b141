package kit_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
)

func TestAgeTurnsAtLocalMidnight(t *testing.T) {
	m := kit.Member{ID: "ana", BirthDate: kit.NewDate(2008, time.March, 1), TimeZone: "Asia/Tokyo"}
	// 2026-02-28 15:00 UTC is 2026-03-01 00:00 in Tokyo: 18 there, still
	// 17 in UTC.
	at := time.Date(2026, 2, 28, 15, 0, 0, 0, time.UTC)
	age, err := m.AgeAt(at)
	require.NoError(t, err)
	require.Equal(t, 18, age)
	age, err = m.AgeAt(at.Add(-time.Nanosecond))
	require.NoError(t, err)
	require.Equal(t, 17, age)
	utc := m
	utc.TimeZone = ""
	ok, err := utc.AtLeast(18, at)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestLeapDayBirthdayComesOfAgeOnFirstMarch(t *testing.T) {
	m := kit.Member{ID: "leap", BirthDate: kit.NewDate(2008, time.February, 29)}
	feb28 := time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)
	ok, err := m.AtLeast(18, feb28)
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = m.AtLeast(18, feb28.Add(12*time.Hour))
	require.NoError(t, err)
	require.True(t, ok)
}

func TestUnknownFactsAreAnErrorNotAYes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, m := range map[string]kit.Member{
		"no birth date":  {ID: "a"},
		"bad zone":       {ID: "b", BirthDate: kit.NewDate(1990, 1, 1), TimeZone: "Mars/Olympus"},
		"born later":     {ID: "c", BirthDate: kit.NewDate(2030, 1, 1)},
		"no such date":   {ID: "d", BirthDate: kit.NewDate(1990, time.April, 31)},
		"year out range": {ID: "e", BirthDate: kit.NewDate(-5, 1, 1)},
	} {
		_, err := m.AtLeast(18, now)
		require.ErrorIs(t, err, kit.ErrMemberFacts, name)
		require.Equal(t, ledger.CodeFailedPrecondition, ledger.ErrorCode(err), name)
	}
}

func TestMemberJSONRoundTrip(t *testing.T) {
	m := kit.Member{ID: "ana", BirthDate: kit.NewDate(2001, 12, 31), TimeZone: "Europe/Rome", Country: "IT"}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"ana","birth_date":"2001-12-31","time_zone":"Europe/Rome","country":"IT"}`, string(b))
	var back kit.Member
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, m, back)
	require.Error(t, json.Unmarshal([]byte(`{"birth_date":"2001-13-01"}`), &back))
}

func TestDirectory(t *testing.T) {
	d := kit.NewDirectory(kit.Member{ID: "a", Country: "IT"})
	_, err := d.Member(t.Context(), "zz")
	require.ErrorIs(t, err, kit.ErrUnknownMember)
	require.Equal(t, ledger.CodeNotFound, ledger.ErrorCode(err))
	d.Update("a", func(m *kit.Member) { m.Followers = 5 })
	m, err := d.Member(t.Context(), "a")
	require.NoError(t, err)
	require.Equal(t, kit.Member{ID: "a", Country: "IT", Followers: 5}, m)
}

func TestDurationJSON(t *testing.T) {
	var v struct{ D kit.Duration }
	require.NoError(t, json.Unmarshal([]byte(`{"D":"90m"}`), &v))
	require.Equal(t, 90*time.Minute, v.D.D())
	require.Error(t, json.Unmarshal([]byte(`{"D":5}`), &v))
	require.Error(t, json.Unmarshal([]byte(`{"D":"5"}`), &v))
	b, _ := json.Marshal(v)
	require.JSONEq(t, `{"D":"1h30m0s"}`, string(b))
}

func TestRefusalCarriesTheRuleAsData(t *testing.T) {
	sentinel := ledger.NewError(ledger.CodeResourceExhausted, "gifting: daily spend limit reached")
	err := ledger.Refuse(sentinel, "daily_spend_limit", "%d of %d coins spent today", 900, 1000)
	require.ErrorIs(t, err, sentinel)
	require.Equal(t, "daily_spend_limit", ledger.RuleOf(err))
	require.Equal(t, ledger.CodeResourceExhausted, ledger.ErrorCode(err))
	require.Equal(t, "gifting: daily spend limit reached: 900 of 1000 coins spent today (rule daily_spend_limit)", err.Error())
	require.Equal(t, "", ledger.RuleOf(errors.New("x")))
}

func TestTickReport(t *testing.T) {
	var r kit.TickReport
	r.Add("x.done", "1")
	r.Add("y.done", "2")
	r.Add("x.done", "3")
	require.Equal(t, 2, r.Count("x.done"))
	require.Equal(t, []string{"1", "3"}, r.IDs("x.done"))
	require.NoError(t, r.Err())
	r.Merge(kit.TickReport{Failed: []kit.ItemError{{Kind: "k", ID: "9", Err: errors.New("boom")}}})
	require.ErrorContains(t, r.Err(), "k 9: boom")
}

func TestCheckID(t *testing.T) {
	bad := ledger.NewError(ledger.CodeInvalidArgument, "p: invalid request")
	require.NoError(t, kit.CheckID(bad, "member", "ana-1@x.y+z"))
	for _, id := range []string{"", "a:b", "a b", string(make([]byte, 65))} {
		require.ErrorIs(t, kit.CheckID(bad, "member", id), bad, id)
	}
}
