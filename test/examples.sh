#!/bin/sh
echo "examples: (none yet)"
