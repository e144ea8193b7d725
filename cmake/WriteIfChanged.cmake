# qnext_write_if_changed(PATH TEXT): writes TEXT to PATH unless PATH already
# holds it, so that what includes a generated file rebuilds only when its
# text changes (VersionInfo.cmake, SourceIdentity.cmake).
function(qnext_write_if_changed path text)
  set(old "")
  if(EXISTS "${path}")
    file(READ "${path}" old)
  endif()
  if(NOT old STREQUAL text)
    file(WRITE "${path}" "${text}")
  endif()
endfunction()
