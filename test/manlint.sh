#!/bin/sh
echo "man: (pages to come)"
