// Package rabbitmqtest starts RabbitMQ nodes of their own, for tests and
// demos: each runs Debian's rabbitmq-server (package rabbitmq-server) as a
// child process with its own node name, AMQP port, distribution port and
// epmd on 127.0.0.1, its own Erlang cookie, no plugins, and its data and
// logs in a temporary directory, so that it runs next to a system node and
// next to other such nodes. It can be stopped (Stop, Restart) or killed
// (Kill, Crash) and started again with the same data, as a restart of the
// server or its start after a crash.
//
//	n, err := rabbitmqtest.Start()
//	if err != nil { ... }    // ErrNotInstalled names the install command
//	defer n.Close()
//	t, err := rabbitmq.Connect(ctx, n.URL())
package rabbitmqtest
