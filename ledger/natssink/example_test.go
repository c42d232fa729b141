package natssink_test

import (
	"context"
	"log"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/memstore"
	"github.com/rewardkit/rewardkit/ledger/natssink"
)

// Publishing a ledger's events to a JetStream stream until the context
// ends. (Not run as a test: it needs a nats-server.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := ledger.New(memstore.New())

	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	// Every "rewardkit.<event type>" subject, duplicates dropped for 30 minutes.
	if _, err := natssink.EnsureStream(ctx, js, "REWARDKIT", nil, 0); err != nil {
		log.Fatal(err)
	}

	sink := natssink.New(l, js, natssink.WithLogger(slog.Default()))
	go func() { _ = sink.Run(ctx) }()

	// Whatever the ledger commits from now on reaches the stream.
	_ = l.Update(ctx, func(w *ledger.Writer) error {
		return w.Emit("shop.order.paid", "order-1", map[string]string{"total": "12.50"})
	})
	<-ctx.Done()
}
