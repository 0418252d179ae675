#!/usr/bin/env bash
# task_values_test.sh with the coordinator registered in pg_dist_node
# (citus_set_coordinator_host; it holds no shards): the other topology.
# Needs Citus (exit 77, skipped, without it).
export CITUS_COORDINATOR_NODE=1
exec bash "$(dirname "$0")/task_values_test.sh"
