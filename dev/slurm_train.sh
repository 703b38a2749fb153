#!/usr/bin/env bash
# Train on several machines under Slurm, one task per GPU, without torchrun: each task
# reads its rank, the world size and the first node (MASTER_ADDR) from Slurm's variables
# (actionkit.engine.dist.slurm_environment). The work dir must be on storage every node
# sees (rank 0 writes the checkpoints; --resume reads them).
#
#   sbatch dev/slurm_train.sh configs/recognition/tsm_r50_kinetics400.yaml [actionkit-train options]
#   sbatch --nodes 4 dev/slurm_train.sh CONFIG --resume        # another size: the global batch
#                                                              # is data.batch_size x tasks
#SBATCH --job-name=actionkit-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=8
#SBATCH --output=%x-%j.out
set -euo pipefail
export MASTER_PORT="${MASTER_PORT:-29500}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"
# one process per task; actionkit-train --help for the options
srun --kill-on-bad-exit=1 python -m actionkit.cli.train "$@"
