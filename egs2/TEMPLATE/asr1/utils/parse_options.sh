#!/usr/bin/env bash
# Turns "--name value" command-line options into assignments of the shell variable "name" (dashes in
# the name become underscores). Source it after the defaults are set:
#     . utils/parse_options.sh
# Only variables that already exist may be set. "--config FILE" sources FILE first; "--help" / "-h"
# prints ${help_message} and exits. Positional arguments that follow the options stay in "$@".

_po_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h)
            echo "${help_message:-No help message for $0}" >&2
            exit 0
            ;;
        --config)
            [ $# -ge 2 ] || { echo "$0: option --config needs a file" >&2; exit 1; }
            [ -f "$2" ] || { echo "$0: no such config file: $2" >&2; exit 1; }
            # shellcheck disable=SC1090
            . "$2"
            shift 2
            ;;
        --*=*)
            _po_name="${1%%=*}"; _po_name="${_po_name#--}"; _po_name="${_po_name//-/_}"
            _po_value="${1#*=}"
            if ! declare -p "${_po_name}" >/dev/null 2>&1; then
                echo "$0: unknown option --${_po_name}" >&2; exit 1
            fi
            printf -v "${_po_name}" '%s' "${_po_value}"
            shift
            ;;
        --)
            shift; _po_args+=("$@"); break
            ;;
        --*)
            _po_name="${1#--}"; _po_name="${_po_name//-/_}"
            if ! declare -p "${_po_name}" >/dev/null 2>&1; then
                echo "$0: unknown option --${_po_name}" >&2; exit 1
            fi
            [ $# -ge 2 ] || { echo "$0: option --${_po_name} needs a value" >&2; exit 1; }
            printf -v "${_po_name}" '%s' "$2"
            shift 2
            ;;
        *)
            _po_args+=("$1"); shift
            ;;
    esac
done
set -- ${_po_args[@]+"${_po_args[@]}"}
unset _po_args _po_name _po_value
