package main

import (
	"fmt"
	"math/rand/v2"
)

// person is one simulated member: the facts an integrating service would
// hand each program through its Members interface.
type person struct {
	ID           string
	Age          int
	Country      string
	Employee     bool
	PayoutLinked bool
	Creator      bool
	Political    bool
	Followers    int64
	Views        int64
	// Founder members are on the platform from day 0; the others join
	// through a referral code during the simulation (or never).
	Founder bool
	Joined  bool
}

// Adult reports whether the person is 18 or older.
func (p *person) Adult() bool { return p.Age >= 18 }

// population is the simulated membership, generated from the seed.
type population struct {
	people    []*person
	creators  []*person
	founders  int
	joined    int
	minors    int
	foreign   int
	employees int
	linked    int
	political int
}

// newPopulation draws n members: about 30% founders, 2% creators (a few
// large ones), 6% minors, 4% outside Italy, 0.3% employees, 55% with a
// payout account linked.
func newPopulation(rng *rand.Rand, n int) *population {
	pop := &population{}
	for i := 0; i < n; i++ {
		p := &person{ID: fmt.Sprintf("m%06d", i+1), Country: "IT", Age: 18 + rng.IntN(50)}
		if rng.Float64() < 0.06 {
			p.Age = 13 + rng.IntN(5)
			pop.minors++
		}
		if rng.Float64() < 0.04 {
			p.Country = []string{"FR", "DE", "ES", "GB", "US"}[rng.IntN(5)]
			pop.foreign++
		}
		if rng.Float64() < 0.003 {
			p.Employee = true
			pop.employees++
		}
		if rng.Float64() < 0.55 {
			p.PayoutLinked = true
			pop.linked++
		}
		p.Followers = int64(rng.ExpFloat64() * 300)
		p.Views = p.Followers * int64(3+rng.IntN(20))
		if i < 5 || rng.Float64() < 0.02 {
			p.Creator = true
			p.Followers = 2000 + int64(rng.ExpFloat64()*40000)
			p.Views = p.Followers * int64(5+rng.IntN(20))
			if i < 5 { // a few established creators who pass every threshold
				p.Age, p.Country, p.Employee, p.PayoutLinked = 25+i, "IT", false, true
				p.Followers, p.Views = 50000+int64(i)*25000, 2000000
			}
			if rng.Float64() < 0.02 {
				p.Political = true
				pop.political++
			}
			pop.creators = append(pop.creators, p)
		}
		if i < 5 || rng.Float64() < 0.3 {
			p.Founder, p.Joined = true, true
			pop.founders++
			pop.joined++
		}
		pop.people = append(pop.people, p)
	}
	return pop
}

func (pop *population) describe() string {
	return fmt.Sprintf("%s founders, %s creators, %s minors, %s outside Italy, %s employees, %s with a payout account, %s political accounts",
		thousands(int64(pop.founders)), thousands(int64(len(pop.creators))), thousands(int64(pop.minors)),
		thousands(int64(pop.foreign)), thousands(int64(pop.employees)), thousands(int64(pop.linked)), thousands(int64(pop.political)))
}

// join puts a member on the platform.
func (pop *population) join(p *person) {
	if !p.Joined {
		p.Joined = true
		pop.joined++
	}
}

// pick returns a random member.
func (pop *population) pick(rng *rand.Rand) *person { return pop.people[rng.IntN(len(pop.people))] }

// pickJoined returns a random member already on the platform.
func (pop *population) pickJoined(rng *rand.Rand) *person {
	for {
		if p := pop.pick(rng); p.Joined {
			return p
		}
	}
}

// pickCreator returns a random creator, the big ones more often.
func (pop *population) pickCreator(rng *rand.Rand) *person {
	if rng.IntN(2) == 0 {
		return pop.creators[rng.IntN(min(5, len(pop.creators)))]
	}
	return pop.creators[rng.IntN(len(pop.creators))]
}
