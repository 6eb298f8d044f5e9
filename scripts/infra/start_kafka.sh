# shellcheck shell=bash disable=SC2153  # settings come from lib.sh, sourced first by start.sh
# Kafka part of start.sh (sourced). One broker in KRaft combined mode (broker + controller in one
# JVM), run from the jars that provision.sh resolved into .local/kafka/libs.

KAFKA_READY_TIMEOUT_S="${RECON_KAFKA_READY_TIMEOUT_S:-120}"
KAFKA_SERVER_PROPERTIES="$KAFKA_CONFIG_DIR/server.properties"
KAFKA_LOG4J_CONFIG="$KAFKA_CONFIG_DIR/log4j2.properties"

write_kafka_config() {
    mkdir -p "$KAFKA_CONFIG_DIR" "$KAFKA_DATA" "$KAFKA_LOG_DIR"
    cat >"$KAFKA_SERVER_PROPERTIES" <<EOF
# Managed by scripts/infra/start.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$BIND_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$BIND_HOST:$KAFKA_PORT,CONTROLLER://$BIND_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$BIND_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DATA

# A single node: every internal topic must accept one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# Fewer internal partitions than the defaults (50): faster first group join on a 2-core machine.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Topics are created explicitly from the event catalogue, never by a typo in a consumer.
auto.create.topics.enable=false
num.partitions=6
delete.topic.enable=true

# Consumer-group tests should not sit out the 3 s default join delay. Classic groups (aiokafka)
# and the KIP-848 consumer protocol are both served.
group.initial.rebalance.delay.ms=0
group.coordinator.rebalance.protocols=classic,consumer

num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF
    cat >"$KAFKA_LOG4J_CONFIG" <<EOF
# Managed by scripts/infra/start.sh.
status = warn
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = $KAFKA_LOG_DIR/server.log
appender.server.filePattern = $KAFKA_LOG_DIR/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 50MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
# Per-request and state-change chatter drowns the useful lines.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
}

# The equivalent of KAFKA_HEAP_OPTS="-Xms256m -Xmx512m" plus the JVM flags kafka-run-class.sh uses.
KAFKA_JAVA=(java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" -Dkafka.logs.dir="$KAFKA_LOG_DIR"
    -cp "$KAFKA_LIBS/*")

# What `StorageTool random-uuid` prints (16 random bytes, URL-safe base64, unpadded), without
# paying a JVM start for it. Like Kafka, skip ids starting with '-': CLIs would read them as flags.
new_cluster_id() {
    local id
    while :; do
        id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
        [[ "$id" == -* ]] || break
    done
    echo "$id"
}

# Formatting writes meta.properties with the cluster id; doing it again would orphan the data.
format_kafka_storage() {
    [[ -f "$KAFKA_DATA/meta.properties" ]] && return
    local cluster_id_file="$KAFKA_DIR/cluster.id"
    if [[ ! -s "$cluster_id_file" ]]; then
        new_cluster_id >"$cluster_id_file"
    fi
    log "kafka: formatting $KAFKA_DATA (cluster id $(cat "$cluster_id_file"))"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --ignore-formatted \
        -t "$(cat "$cluster_id_file")" -c "$KAFKA_SERVER_PROPERTIES" >"$KAFKA_LOG_DIR/format.log" 2>&1 || {
        cat "$KAFKA_LOG_DIR/format.log" >&2
        die "kafka: storage format failed"
    }
}

launch_kafka() {
    port_in_use "$KAFKA_PORT" && die "kafka: port $KAFKA_PORT is taken by a process we did not start"
    port_in_use "$KAFKA_CONTROLLER_PORT" && die "kafka: port $KAFKA_CONTROLLER_PORT is taken by a process we did not start"
    log "kafka: starting $KAFKA_VERSION (KRaft combined, heap 512m)"
    printf '\n==== start %s ====\n' "$(date -Is)" >>"$KAFKA_STDOUT"
    # setsid: the broker gets its own session, so it outlives this script and the caller's
    # terminal or job control group.
    (cd "$KAFKA_DIR" && exec setsid "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_SERVER_PROPERTIES" \
        >>"$KAFKA_STDOUT" 2>&1 </dev/null 9>&-) &
    local pid=$!
    # setsid only keeps the pid when it need not fork (caller without job control); otherwise
    # find the broker by its unique config path.
    sleep 0.5
    if ! pid_matches "$pid" kafka.Kafka; then
        pid="$(pgrep -n -f -- "kafka.Kafka $KAFKA_SERVER_PROPERTIES" || true)"
    fi
    [[ -n "$pid" ]] || die "kafka: JVM exited immediately; see $KAFKA_STDOUT"
    echo "$pid" >"$KAFKA_PIDFILE"
}

wait_for_kafka() {
    local pid
    pid="$(pidfile_pid "$KAFKA_PIDFILE")" || return 1
    repo_python "$REPO/scripts/infra/kafka_probe.py" wait --bootstrap "$BIND_HOST:$KAFKA_PORT" \
        --timeout "$KAFKA_READY_TIMEOUT_S" --pid "$pid" >/dev/null
}

start_kafka() {
    [[ -f "$KAFKA_LIBS_MARKER" ]] || die "kafka: jars missing; run scripts/infra/provision.sh"
    write_kafka_config

    if kafka_pid_alive; then
        if kafka_is_healthy 15; then
            log "kafka: already running (pid $(pidfile_pid "$KAFKA_PIDFILE")) on $BIND_HOST:$KAFKA_PORT"
            return
        fi
        log "kafka: process alive but metadata not answering; waiting for it"
        wait_for_kafka && {
            log "kafka: ready"
            return
        }
        stop_kafka_process
    fi

    format_kafka_storage
    local attempt
    for attempt in 1 2; do
        local started_at=$SECONDS
        launch_kafka
        if wait_for_kafka; then
            log "kafka: ready after $((SECONDS - started_at))s (pid $(pidfile_pid "$KAFKA_PIDFILE"))"
            return
        fi
        log "kafka: not ready (attempt $attempt); last log lines:"
        tail -n 25 "$KAFKA_STDOUT" >&2 || true
        tail -n 25 "$KAFKA_LOG_DIR/server.log" >&2 2>/dev/null || true
        stop_kafka_process
    done
    die "kafka: failed to start twice (logs: $KAFKA_STDOUT, $KAFKA_LOG_DIR/server.log)"
}
