#!/usr/bin/env bash
# Watchdog for e2e/harness/reaper.ts: reads "+pid N", "-pid N", "+netns NAME",
# "-netns NAME", "+dir PATH", "-dir PATH" lines from the test process on stdin.
# EOF means the test process is gone, however it died: kill what it left
# running, delete its network namespaces and temp directories.
#
# Group-wide INT/TERM/HUP (Ctrl-C, e2e/run.ts timing out) are ignored so the
# watchdog outlives the test process it is cleaning up after.
trap '' INT TERM HUP
declare -A pids=() netns=() dirs=()
while IFS= read -r line; do
  arg=${line#* }
  case ${line%% *} in
    +pid) pids[$arg]=1 ;;
    -pid) unset "pids[$arg]" ;;
    +netns) netns[$arg]=1 ;;
    -netns) unset "netns[$arg]" ;;
    +dir) dirs[$arg]=1 ;;
    -dir) unset "dirs[$arg]" ;;
  esac
done
for p in "${!pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
for n in "${!netns[@]}"; do ip netns delete "$n" 2>/dev/null; done
for d in "${!dirs[@]}"; do rm -rf -- "$d"; done
exit 0
