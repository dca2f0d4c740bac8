/**
 * How a GPU fleet task gets its models: before ComfyUI starts, a short-lived container copies
 * the models of VTO_MODEL_CHAIN (the same value the API and the functions validate against)
 * from the artifacts bucket into a host volume ComfyUI reads, and fails, naming the model,
 * when one is missing, so a task never serves a chain it cannot run. The volume is on the
 * instance, so a task restarted there copies only what changed.
 */

/** Where models are uploaded: s3://<ArtifactsBucket>/models/checkpoints/<file> (ComfyUI's checkpoints folder). */
export const MODELS_PREFIX = 'models/checkpoints/';
/** The host path kept across tasks on one instance, and where it is mounted in the containers. */
export const MODELS_HOST_PATH = '/var/lib/vto/models';
export const MODELS_MOUNT = '/models';

/**
 * POSIX sh, run by the AWS CLI image with MODELS_BUCKET, MODELS_PREFIX and VTO_MODEL_CHAIN
 * (comma-separated) in its environment. Only the chain's files are copied (`--exclude '*'`
 * then one `--include` each).
 */
export const MODEL_SYNC_SCRIPT = [
  'set -eu',
  'dest="${MODELS_DIR:-/models}/checkpoints"',
  'mkdir -p "$dest"',
  'set -f; IFS=","; set -- $VTO_MODEL_CHAIN; unset IFS; set +f',
  'for m in "$@"; do set -- "$@" --include "$m"; shift; done',
  'aws s3 sync "s3://$MODELS_BUCKET/$MODELS_PREFIX" "$dest" --no-progress --only-show-errors --exclude "*" "$@"',
  'set -f; IFS=","; set -- $VTO_MODEL_CHAIN; unset IFS; set +f',
  'for m in "$@"; do [ -s "$dest/$m" ] || { echo "model $m is not in s3://$MODELS_BUCKET/$MODELS_PREFIX (VTO_MODEL_CHAIN lists it)" >&2; exit 1; }; done',
  'echo "models ready: $VTO_MODEL_CHAIN"',
].join('\n');
