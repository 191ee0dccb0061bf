# Where the corpus is. Set FSDD in the environment or here: the folder that holds the Free Spoken
# Digit Dataset's recordings/ ({digit}_{speaker}_{index}.wav, 8 kHz). Relative paths start at this
# recipe directory. When recordings/ is missing there, local/data.sh downloads the dataset into it.
FSDD="${FSDD:-downloads/fsdd}"
