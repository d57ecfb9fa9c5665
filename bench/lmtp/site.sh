# Sourced by run.sh and crash.sh: one mailcast installation for intake benchmarks.
# make_site DIR PORT REST_PORT writes DIR/mailcast.toml (LMTP on 127.0.0.1:PORT, runners and
# the Maildir reader off, var directory DIR/var) and creates the list
# bench@lists.example.org with the generator's sender as its one member. Needs $MAILCAST.
make_site() {
    local dir=$1 port=$2 rest_port=$3
    mkdir -p "$dir"
    cat > "$dir/mailcast.toml" <<TOML
[paths]
var_dir = "var"
[lmtp]
listen = "127.0.0.1:$port"
[rest]
listen = "127.0.0.1:$rest_port"
[runner]
enabled = false
[maildir]
enabled = false
[logging]
level = "warn"
TOML
    local mc=("$MAILCAST" --config "$dir/mailcast.toml")
    "${mc[@]}" domains add lists.example.org > /dev/null
    "${mc[@]}" lists create bench@lists.example.org > /dev/null
    "${mc[@]}" members add bench@lists.example.org loadgen@example.net > /dev/null
}
