#!/usr/bin/env bash
# test_dist under mpirun -np 2: the all-reduced gradient of each rank's share equals the one-process
# gradient of the whole batch, gathered blobs arrive in rank order, and a rank's failure reaches every rank.
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
"${HF_MPIEXEC:-mpirun}" --oversubscribe -np 2 -x OMP_NUM_THREADS -x HF_SOURCE_DIR "$HF_TEST_DIST"
