# Where the corpus is. Set LIBRISPEECH in the environment or here: the directory that holds
# LibriSpeech/{train-clean-100,dev-clean,dev-other,test-clean,test-other}/ (relative paths start at
# this recipe directory). Subsets missing there are downloaded into it by local/data.sh.
LIBRISPEECH="${LIBRISPEECH:-downloads}"
