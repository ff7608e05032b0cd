"""Tests of `rigscope replay`: the player, its keys, the picker, the sessions it opens, end to end in tmux."""
