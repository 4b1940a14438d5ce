# Helpers shared by the scripts that write the R reference files:
# a JSON writer that keeps every double at full precision (sprintf("%.17g"))
# and a CSV reader that parses numbers with a correctly rounded parser.
# Sourced by generate_reference.R and generate_small_sample.R.

# -------------------------------------------------------------- JSON writer --
# Named list -> object; unnamed list -> array; atomic vector of length != 1 or
# wrapped in I() -> array; length-1 atomic -> scalar; NULL -> null.
json_scalar <- function(v) {
  if (is.na(v)) return("null")
  if (is.character(v)) return(encodeString(v, quote = "\""))
  if (is.logical(v)) return(if (v) "true" else "false")
  if (is.integer(v)) return(as.character(v))
  if (is.numeric(v)) {
    if (!is.finite(v)) return("null")
    return(sprintf("%.17g", v))
  }
  stop("unsupported type: ", class(v))
}

to_json <- function(x, indent = 0L) {
  pad <- strrep("  ", indent)
  pad1 <- strrep("  ", indent + 1L)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0L) return(if (is.null(names(x))) "[]" else "{}")
    if (!is.null(names(x))) {
      items <- vapply(seq_along(x), function(i) {
        paste0(pad1, encodeString(names(x)[i], quote = "\""), ": ",
               to_json(x[[i]], indent + 1L))
      }, character(1))
      return(paste0("{\n", paste(items, collapse = ",\n"), "\n", pad, "}"))
    }
    items <- vapply(x, function(el) paste0(pad1, to_json(el, indent + 1L)),
                    character(1))
    return(paste0("[\n", paste(items, collapse = ",\n"), "\n", pad, "]"))
  }
  as_array <- inherits(x, "AsIs") || length(x) != 1L
  x <- unclass(unname(x))
  if (as_array) {
    if (length(x) == 0L) return("[]")
    return(paste0("[", paste(vapply(x, json_scalar, character(1)),
                             collapse = ", "), "]"))
  }
  json_scalar(x)
}

mat_rows <- function(M) {
  lapply(seq_len(nrow(M)), function(i) I(unname(M[i, ])))
}

check_equal <- function(a, b, what) {
  res <- all.equal(unname(a), unname(b), tolerance = TOL)
  if (!isTRUE(res)) stop("consistency check failed for ", what, ": ", res)
  invisible(TRUE)
}

se_of <- function(V) unname(sqrt(diag(V)))

# Read a numeric CSV, converting each column's decimal strings with a correctly
# rounded parser (see the header comment of generate_reference.R).
read_csv_exact <- function(path) {
  raw <- read.csv(path, colClasses = "character")
  out <- as.data.frame(lapply(raw, function(v) {
    x <- jsonlite::fromJSON(paste0("[", paste(v, collapse = ","), "]"))
    stopifnot(is.numeric(x), length(x) == length(v), !anyNA(x))
    if (all(x == round(x))) as.integer(x) else as.numeric(x)
  }))
  # Must agree with R's own parser up to the last bit or so.
  check <- read.csv(path)
  stopifnot(identical(names(check), names(out)))
  for (col in names(out)) {
    res <- all.equal(as.numeric(check[[col]]), as.numeric(out[[col]]),
                     tolerance = 1e-15)
    if (!isTRUE(res)) stop("CSV parse mismatch in ", path, " column ", col)
  }
  out
}
