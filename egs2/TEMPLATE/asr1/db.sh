# Corpus locations. Set them here or in the environment before running a recipe.
LIBRISPEECH="${LIBRISPEECH:-downloads}"   # holds LibriSpeech/{train-clean-100,dev-clean,...}
LRS3="${LRS3:-}"                          # holds {trainval,test,pretrain}/<id>/<n>.{mp4,txt}
