#!/bin/sh
# The default user from the environment, allowed to connect from other containers (RabbitMQ lets its
# default user in from localhost only unless told otherwise), then the server in the foreground.
set -eu
cat >/etc/rabbitmq/conf.d/10-default-user.conf <<CONF
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
loopback_users = none
CONF
exec rabbitmq-server
