package main

// simDrivers returns the drivers of every program the simulation runs, in
// the order they act each day.
func simDrivers() []driver {
	return []driver{&referralDriver{}, &giftingDriver{}, &shoutoutDriver{}, &subscriptionDriver{}, &adsbuyDriver{}, &payoutDriver{}}
}
