// Package natssink publishes a ledger's event feed to a NATS JetStream
// stream, with the official client (github.com/nats-io/nats.go/jetstream).
//
// A Sink reads the feed through a durable ledger consumer
// (ledger.Consumer, named "natssink" unless WithConsumer names another),
// publishes each event as its CloudEvents 1.0 JSON (ledger.Event.CloudEvent)
// to the subject "rewardkit.<event type>" (WithSubject changes it), waits
// for JetStream's ack of each, and then commits the last event's Seq as
// the consumer's position, in the ledger's own store.
//
// # Delivery: at least once, in order, duplicates dropped by the server
//
// Each message carries the event's ID (a UUIDv7) as Nats-Msg-Id, its Seq
// in the Rewardkit-Seq header and Content-Type
// application/cloudevents+json. What a crash, a lost ack or an
// unreachable server can do:
//
//   - Nothing is lost. The position moves only after the server acked
//     every event up to it, so after a crash, a failed commit or an outage
//     the sink (or its restart, on any process over the same store)
//     publishes again from the committed position.
//   - Nothing is published twice into the stream within its duplicate
//     window. A republished event has the same Nats-Msg-Id, and JetStream
//     drops a message whose ID it saw within the stream's Duplicates
//     window (EnsureStream sets 30 minutes; JetStream's default is two
//     minutes). The window must cover the longest time between a publish
//     and its republish: the outage, the restart, the backoff. Past it, a
//     duplicate can land; a subscriber that must never see one drops
//     messages whose Rewardkit-Seq it has handled already.
//   - Order is the ledger's. Events are published one at a time, each
//     after the previous one's ack (JetStream's asynchronous publishing
//     may store retried messages out of order), so the stream holds them
//     in Seq order. That costs one round trip to the server per event.
//   - A publish that fails (no server, no stream bound to the subject, a
//     timeout) is retried after a backoff that doubles from WithBackoff's
//     first wait to its cap, with jitter; the acked prefix of a batch is
//     committed first, so the retry republishes only what is in doubt.
//     Failures are logged at Warn (WithLogger).
//
// One Sink per consumer name should run at a time: two would each
// publish every event (dropped as duplicates) and race to commit.
//
// # Usage
//
//	nc, err := nats.Connect(nats.DefaultURL)
//	if err != nil {
//		return err
//	}
//	js, err := jetstream.New(nc)
//	if err != nil {
//		return err
//	}
//	// A stream bound to "rewardkit.>" with a 30-minute duplicate window.
//	if _, err := natssink.EnsureStream(ctx, js, "REWARDKIT", nil, 0); err != nil {
//		return err
//	}
//	sink := natssink.New(l, js, natssink.WithLogger(logger))
//	go sink.Run(ctx) // until ctx ends, retrying through outages
//
// A subscriber reads the stream with any JetStream consumer, filtering by
// subject: "rewardkit.payout.>" for every payout event.
package natssink
