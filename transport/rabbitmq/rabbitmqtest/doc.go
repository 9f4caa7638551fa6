// Package rabbitmqtest starts RabbitMQ nodes of their own, for tests and
// demos: each runs Debian's rabbitmq-server (package rabbitmq-server) as a
// child process with its own node name, AMQP port, distribution port and
// epmd on 127.0.0.1, its own Erlang cookie, no plugins, and its data and
// logs in a temporary directory, so that it runs next to a system node and
// next to other such nodes. It can be stopped and started again with the
// same data, as a restart of the server.
//
//	n, err := rabbitmqtest.Start()
//	if err != nil { ... }    // ErrNotInstalled names the install command
//	defer n.Close()
//	t, err := rabbitmq.Connect(ctx, n.URL())
package rabbitmqtest
