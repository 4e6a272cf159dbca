#!/bin/sh
# supervise.h compiles on its own, without a warning, as C99, C11 and
# C++ (C++11 and the compiler's default), -Wshadow included: in C++ the
# function supv_taskpool_stats hides the struct of that name.
set -eu
cc=${1:-cc} cxx=${2:-c++}
for std in c99 c11; do
	echo '#include "supervise.h"' | $cc -std=$std -pedantic -Wall -Wextra -Wshadow \
		-Werror -fsyntax-only -Iinclude -x c -
done
for std in -std=c++11 ""; do
	echo '#include "supervise.h"' | $cxx $std -Wall -Wextra -Wshadow -Werror \
		-fsyntax-only -Iinclude -x c++ -
done
echo "header: compiles alone, -Wshadow clean, as c99, c11, c++11 and $cxx's default c++"
