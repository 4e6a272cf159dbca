#!/bin/sh
# supervise.h compiles on its own as C99, C11 and C++.
set -eu
cc=${1:-cc} cxx=${2:-c++}
for std in c99 c11; do
	echo '#include "supervise.h"' | $cc -std=$std -pedantic -Wall -Wextra -Werror \
		-fsyntax-only -Iinclude -x c -
done
echo '#include "supervise.h"' | $cxx -Wall -Wextra -Werror -fsyntax-only -Iinclude -x c++ -
echo "header: compiles alone as c99, c11 and c++"
