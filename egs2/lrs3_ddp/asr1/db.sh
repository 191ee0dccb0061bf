# Where the corpus is. Set LRS3 in the environment or here: the directory that holds LRS3's
# trainval/, test/ and (optional) pretrain/ folders of <id>/<n>.mp4 + <n>.txt (relative paths start
# at this recipe directory). LRS3 needs a license; the recipe cannot download it.
LRS3="${LRS3:-downloads/LRS3}"
