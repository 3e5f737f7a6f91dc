#!/usr/bin/env bash
# A real single-node SLURM on this machine, for CI and the SLURM workflow tests (tests/integration/test_slurm*.py).
#
#   tools/ci/slurm.sh up       install slurm-wlm and munge when missing (Debian, root), write /etc/slurm/slurm.conf,
#                              start munged, slurmctld and slurmd, wait until the node is idle (about 2 s once installed)
#   tools/ci/slurm.sh down     cancel the cluster's jobs, stop slurmd, slurmctld and the munged that `up` started,
#                              remove the configuration `up` wrote; nothing of it keeps running
#   tools/ci/slurm.sh status   print whether the cluster is up (exit 0) or not (exit 1)
#
# The cluster: one node (this machine's CPUs, sockets and memory as `slurmd -C` reports them) reached through
# 127.0.0.1 only, one partition `debug` (the default), no accounting (AccountingStorageType=accounting_storage/none:
# sacct has nothing to report, which is what the workflow's status check must cope with), MinJobAge=300 s (squeue
# still lists finished jobs for 5 minutes), memory enforced by jobacct_gather (a job over its --mem is killed with
# state OUT_OF_MEMORY, as on a production cluster). Jobs run as the submitting user (root in CI).
#
# Both commands are idempotent: `up` on a running cluster only checks it, `down` on a stopped one does nothing.
# Only the daemons this script started (their pid files under $SLURM_CI_DIR) are stopped. A SLURM configuration
# this script did not write is never touched: `up` then uses that cluster if it answers, else stops with an error.
set -euo pipefail

SLURM_CI_DIR=${SLURM_CI_DIR:-/var/tmp/petvoi-ci-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# written by petvoi tools/ci/slurm.sh"
PARTITION=debug
NODE=$(hostname -s)

say() { echo "slurm.sh: $*" >&2; }
die() { say "$*"; exit 1; }

alive() {  # alive PIDFILE: the process of a pid file runs
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() {
    sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n 1 || true
}

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "SLURM is not installed and this is not root: run as root, or" \
        "apt-get install slurm-wlm munge yourself"
    command -v apt-get >/dev/null || die "SLURM is not installed and there is no apt-get (Debian/Ubuntu only)"
    say "installing slurm-wlm munge (apt-get, no recommends)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
    fi
}

write_config() {
    # slurmd -C: the hardware as slurmd sees it (CPUs, sockets, cores, threads, RealMemory)
    local hw
    hw=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')
    mkdir -p "$(dirname "$CONF")" "$SLURM_CI_DIR/state" "$SLURM_CI_DIR/spool"
    cat >"$CONF.tmp" <<EOF
$MARKER: a single-node loopback cluster without accounting, for CI.
# Remove it with: tools/ci/slurm.sh down
ClusterName=petvoi-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
MinJobAge=300
KillWait=5
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
StateSaveLocation=$SLURM_CI_DIR/state
SlurmdSpoolDir=$SLURM_CI_DIR/spool
SlurmctldPidFile=$SLURM_CI_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_CI_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_CI_DIR/slurmctld.log
SlurmdLogFile=$SLURM_CI_DIR/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE $hw State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

ours() {  # the configuration in place was written by this script
    [[ -f $CONF ]] && head -n 1 "$CONF" | grep -qF "$MARKER"
}

start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0  # a munged answers already (the system's or ours)
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 755 /run/munge
    runuser -u munge -- munged
    # munged writes its pid file as the munge user: keep a copy beside the others to stop exactly this process
    for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$SLURM_CI_DIR/munged.pid"
}

up() {
    local t0=$SECONDS
    install_packages
    if [[ -f $CONF ]] && ! ours; then
        sinfo -h >/dev/null 2>&1 || die "$CONF was not written by this script and its cluster does not answer;" \
            "not touching it"
        say "using the cluster of the existing $CONF"
        return 0
    fi
    [[ $(id -u) == 0 ]] || die "starting the CI cluster needs root"
    mkdir -p "$SLURM_CI_DIR"
    chmod 755 "$SLURM_CI_DIR"
    if alive "$SLURM_CI_DIR/slurmctld.pid" && alive "$SLURM_CI_DIR/slurmd.pid" && [[ $(node_state) == idle* ||
        $(node_state) == mix* || $(node_state) == alloc* ]]; then
        say "already up (partition $PARTITION, node $NODE)"
        return 0
    fi
    write_config
    start_munge
    alive "$SLURM_CI_DIR/slurmctld.pid" || slurmctld -c
    alive "$SLURM_CI_DIR/slurmd.pid" || slurmd
    local state=""
    for _ in $(seq 300); do  # 30 s
        state=$(node_state)
        case $state in
            idle* | mix* | alloc*) break ;;
            down* | drain* | drng*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.1
    done
    [[ $state == idle* || $state == mix* || $state == alloc* ]] ||
        die "the node did not become idle within 30 s (state '${state:-none}'); see $SLURM_CI_DIR/slurm*.log"
    say "up in $((SECONDS - t0)) s: partition $PARTITION, node $NODE ($(sinfo -h -o '%c CPUs, %m MB'))," \
        "no accounting; logs in $SLURM_CI_DIR"
}

stop_pidfile() {  # stop_pidfile FILE NAME: SIGTERM the process of FILE, wait up to 10 s, then SIGKILL
    local file=$1 name=$2 pid
    alive "$file" || { rm -f "$file"; return 0; }
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name ($pid) did not stop in 10 s: SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

down() {
    if [[ -f $CONF ]] && ! ours; then
        say "$CONF was not written by this script: leaving that cluster alone"
        return 0
    fi
    if alive "$SLURM_CI_DIR/slurmctld.pid"; then
        # the jobs of the CI cluster: cancel them and give their steps a moment to end
        scancel --full --quiet "--partition=$PARTITION" 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -z $(squeue -h -t RUNNING,COMPLETING,PENDING -o %i 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    stop_pidfile "$SLURM_CI_DIR/slurmd.pid" slurmd
    stop_pidfile "$SLURM_CI_DIR/slurmctld.pid" slurmctld
    stop_pidfile "$SLURM_CI_DIR/munged.pid" munged
    if ours; then rm -f "$CONF"; fi
    say "down"
}

status() {
    if alive "$SLURM_CI_DIR/slurmctld.pid" && alive "$SLURM_CI_DIR/slurmd.pid"; then
        echo "up: partition $PARTITION, node $NODE $(node_state)"
        return 0
    fi
    echo "down"
    return 1
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
