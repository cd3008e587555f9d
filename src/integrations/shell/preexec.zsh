# gatekeep: zsh integration, preexec mode (from `gatekeep init zsh --mode preexec`).
# Load it at the end of ~/.zshrc:   eval "$(gatekeep init zsh --mode preexec)"
#
# When Enter accepts a command line, `gatekeep check --shell` reads all of it first: every
# command in lists, pipelines and substitutions, through `\rm`, `command rm`, `env rm` and
# `/bin/rm` (zsh's `preexec` hook cannot stop a line, so this wraps the accept-line widgets).
# - allow: the line runs as typed.
# - anything else: the line is replaced by `gatekeep exec -- zsh -f -c '<line>'` and run, so
#   gatekeep refuses it or asks for approval, then runs it in a child zsh (which has this
#   shell's environment, not its unexported variables, functions or aliases).
# The check reads what zsh will run: `!` history references and aliases are expanded first.
# Commands inside functions defined in this shell are not seen (bash's preexec mode sees
# them), and `r`/`fc`, which re-run history lines past the line editor, are refused.
if [[ ! -o interactive ]]; then
  : # not interactive: nothing is typed here
elif (( ! ${+__gatekeep_preexec} )); then
  typeset -g __gatekeep_preexec=1 __gatekeep_bin=@GATEKEEP@ __gatekeep_offered=
  typeset -gi __gatekeep_rerun=0

  @LOCATE@

  # The line as gatekeep's bash reader should see it, in REPLY ($1 the line, $2 1 when
  # this shell reads `#` as a comment). zsh expands aliases only when it runs the line, and
  # read as bash some zsh words would hide what runs, so the line is rebuilt from zsh's own
  # words (`(z)`) when it uses any of these (otherwise it is left exactly as typed):
  # - aliases (command, global and suffix aliases) are expanded, as zsh will;
  # - the precommand modifiers (`noglob`, `nocorrect`, `-`) and `repeat N` would read as
  #   program names: they are dropped;
  # - with INTERACTIVE_COMMENTS off (zsh's default), `#` is an ordinary character here but
  #   starts a comment for bash: a word starting with it is escaped.
  # `__gatekeep_rerun` is set when the line runs `r` or `fc`, which re-run history lines
  # without the line editor.
  __gatekeep_text() {
    emulate -L zsh
    setopt extended_glob
    local -a __gatekeep_words __gatekeep_out
    local -A __gatekeep_seen
    local __gatekeep_word __gatekeep_prev=
    local -i __gatekeep_i=1 __gatekeep_at_command=1 __gatekeep_skip=0 __gatekeep_changed=0
    local -i __gatekeep_expansions=0
    __gatekeep_rerun=0
    __gatekeep_words=(${(z)1})
    while (( __gatekeep_i <= $#__gatekeep_words )); do
      __gatekeep_word=$__gatekeep_words[__gatekeep_i]
      # Aliases, each name once per command (`alias ls='ls -G'` expands once, as in zsh).
      if (( __gatekeep_expansions < 100 && ! $+__gatekeep_seen[$__gatekeep_word] )); then
        if (( __gatekeep_at_command && $+aliases[$__gatekeep_word] )); then
          __gatekeep_words[__gatekeep_i,__gatekeep_i]=(${(z)aliases[$__gatekeep_word]})
        elif (( $+galiases[$__gatekeep_word] )); then
          __gatekeep_words[__gatekeep_i,__gatekeep_i]=(${(z)galiases[$__gatekeep_word]})
        elif (( __gatekeep_at_command )) && [[ $__gatekeep_word == [^/]#.[^./]## ]] \
            && (( $+saliases[${__gatekeep_word##*.}] )); then
          __gatekeep_words[__gatekeep_i,__gatekeep_i]=(${(z)saliases[${__gatekeep_word##*.}]} $__gatekeep_word)
        else
          __gatekeep_word=
        fi
        if [[ -n $__gatekeep_word ]]; then
          __gatekeep_seen[$__gatekeep_word]=1
          (( __gatekeep_expansions++, __gatekeep_changed = 1 ))
          continue
        fi
        __gatekeep_word=$__gatekeep_words[__gatekeep_i]
      fi
      (( __gatekeep_i++ ))
      if (( __gatekeep_skip )); then
        __gatekeep_skip=0
        continue
      fi
      if [[ $__gatekeep_prev == fc && $__gatekeep_word != -*l* ]]; then
        __gatekeep_rerun=1
      fi
      __gatekeep_prev=
      if (( __gatekeep_at_command )); then
        case $__gatekeep_word in
          (noglob|nocorrect|-) __gatekeep_changed=1; continue ;;
          (repeat) __gatekeep_changed=1; __gatekeep_skip=1; continue ;;
          (r) __gatekeep_rerun=1 ;;
          (fc) __gatekeep_prev=fc ;;
        esac
      fi
      if [[ $2 != 1 && $__gatekeep_word == '#'* ]]; then
        __gatekeep_word="\\$__gatekeep_word"
        __gatekeep_changed=1
      fi
      __gatekeep_out+=($__gatekeep_word)
      case $__gatekeep_word in
        (';'|'&'|'|'|'&&'|'||'|'|&'|'&|'|'&!'|'('|'{'|'!'|if|then|else|elif|while|until|do|time|exec|command|builtin)
          __gatekeep_at_command=1
          __gatekeep_seen=() ;;
        (*) __gatekeep_at_command=0 ;;
      esac
    done
    [[ $__gatekeep_prev == fc ]] && __gatekeep_rerun=1
    if (( __gatekeep_changed )); then
      REPLY=${(j: :)__gatekeep_out}
    else
      REPLY=$1
    fi
  }

  # Wraps accept-line and the other widgets that run the line.
  __gatekeep_accept() {
    # zsh expands `!` history references after the widget, so expand them now: the check
    # must read what will run. This and the parse test below use this shell's own options.
    if [[ -o bang_hist && -z $PREBUFFER && $BUFFER == *'!'* ]]; then
      local __gatekeep_before
      repeat 5; do
        __gatekeep_before=$BUFFER
        zle expand-history
        [[ $BUFFER == "$__gatekeep_before" ]] && break
      done
    fi
    local __gatekeep_line=$PREBUFFER$BUFFER __gatekeep_parses=0 __gatekeep_comments=0
    [[ -o interactive_comments ]] && __gatekeep_comments=1
    unfunction __gatekeep_syntax 2>/dev/null
    functions[__gatekeep_syntax]=$__gatekeep_line 2>/dev/null
    (( $+functions[__gatekeep_syntax] )) && __gatekeep_parses=1
    unfunction __gatekeep_syntax 2>/dev/null

    emulate -L zsh
    setopt extended_glob
    local __gatekeep_orig=__gatekeep_orig_$WIDGET
    (( $+widgets[$__gatekeep_orig] )) || __gatekeep_orig=.$WIDGET
    # Blank lines, and lines zsh cannot parse yet (it asks for more) or at all (it says
    # why): nothing runs, so there is nothing to check.
    if [[ -z ${__gatekeep_line//[[:space:]]/} ]] || (( ! __gatekeep_parses )); then
      zle $__gatekeep_orig
      return
    fi
    # The line offered below after a multi-line command, unchanged: gatekeep exec decides.
    if [[ -n $__gatekeep_offered && $__gatekeep_line == "$__gatekeep_offered" ]]; then
      __gatekeep_offered=
      zle $__gatekeep_orig
      return
    fi
    # Leaving the shell is never held back, whatever state gatekeep or its policy is in.
    if [[ $__gatekeep_line == [[:space:]]#(exit|logout|bye)([[:space:]]##<->)#[[:space:]]# ]]; then
      zle $__gatekeep_orig
      return
    fi
    # The guard does not switch itself off: whatever gatekeep says about them, lines that
    # name its internals or rebind what Enter runs would leave the next lines unchecked.
    if [[ $__gatekeep_line == *__gatekeep* || $__gatekeep_line == *accept-(line|and-)* \
          || ( $__gatekeep_line == *bindkey* && $__gatekeep_line == *(\^M|\^J|-[rdDAN]|\\[rn])* ) ]]; then
      zle -I
      print -ru2 -- "gatekeep: refused: this line would switch off gatekeep in this shell"
      print -ru2 -- "hint: work without gatekeep in a shell that does not load its snippet"
      zle send-break
      return
    fi
    if ! __gatekeep_locate; then
      zle -I
      print -ru2 -- "gatekeep: not run: gatekeep is no longer at ${__gatekeep_bin:-(unknown)} nor on PATH, and this shell checks every command line with it"
      print -ru2 -- "hint: reinstall gatekeep, or leave this shell with \`exit\`"
      zle send-break
      return
    fi
    __gatekeep_text $__gatekeep_line $__gatekeep_comments
    local __gatekeep_checked=$REPLY
    if (( __gatekeep_rerun )); then
      zle -I
      print -ru2 -- "gatekeep: refused: \`r\` and \`fc\` re-run history lines that this shell cannot check; type the command instead"
      zle send-break
      return
    fi
    "$__gatekeep_bin" check --shell=$__gatekeep_checked </dev/null >/dev/null 2>&1
    if (( $? == 0 )); then
      zle $__gatekeep_orig
      return
    fi
    local __gatekeep_exec="${(q)__gatekeep_bin} exec -- ${(q)${commands[zsh]:-zsh}} -f -c ${(qq)__gatekeep_checked}"
    if [[ -n $PREBUFFER ]]; then
      # zsh has already read the first lines of this command and cannot take them back:
      # offer the whole command in gatekeep's form at a fresh prompt instead.
      zle -I
      print -ru2 -- "gatekeep: not run as typed: press Enter to run it through gatekeep"
      __gatekeep_offered=$__gatekeep_exec
      print -rz -- $__gatekeep_exec
      zle send-break
      return
    fi
    BUFFER=$__gatekeep_exec
    zle $__gatekeep_orig
  }

  if __gatekeep_locate; then
    () {
      local __gatekeep_widget
      for __gatekeep_widget in accept-line accept-and-hold accept-line-and-down-history \
          accept-and-infer-next-history; do
        # Keep a widget that another plugin put there, and call it after the check.
        [[ $widgets[$__gatekeep_widget] == user:* ]] &&
          zle -A $__gatekeep_widget __gatekeep_orig_$__gatekeep_widget
        zle -N $__gatekeep_widget __gatekeep_accept
      done
    }
  else
    print -ru2 -- "gatekeep: not found at ${__gatekeep_bin:-(unknown)} nor on PATH: this shell is NOT guarded by gatekeep"
  fi
fi
