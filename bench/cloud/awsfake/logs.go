package awsfake

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogEvent is one event of a log group.
type LogEvent struct {
	Stream  string
	Time    time.Time
	Message string
	// Delay hides the event from the first Delay searches of its group (a search
	// is a FilterLogEvents call without nextToken): CloudWatch Logs shows events
	// some time after they were written.
	Delay int
}

// Logs models CloudWatch Logs' FilterLogEvents (time range, a filter pattern of
// terms and quoted phrases, paging) and DescribeLogGroups (by name prefix, paging).
type Logs struct {
	// PageSize caps the events or groups of one answer (default 10000, the
	// service's own cap for FilterLogEvents); a test sets it low to make paging.
	PageSize int

	mu       sync.Mutex
	groups   map[string]*logGroup
	pages    map[string][]any // nextToken → what remains
	tokens   int
	searches int
}

type logGroup struct {
	events   []LogEvent
	searches int
}

// NewLogs has no log groups.
func NewLogs() *Logs { return &Logs{groups: map[string]*logGroup{}, pages: map[string][]any{}} }

// AddGroup creates a log group (Put creates one too).
func (l *Logs) AddGroup(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.group(name)
}

// Put appends events to a group.
func (l *Logs) Put(group string, events ...LogEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.group(group)
	g.events = append(g.events, events...)
}

// Searches is how many searches (FilterLogEvents calls without nextToken) the
// fake has answered.
func (l *Logs) Searches() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.searches
}

func (l *Logs) group(name string) *logGroup {
	g, ok := l.groups[name]
	if !ok {
		g = &logGroup{}
		l.groups[name] = g
	}
	return g
}

// Install registers the fake on srv.
func (l *Logs) Install(srv *Server) { srv.Handle("logs", l) }

func (l *Logs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallFrom(r)
	switch c.Operation {
	case "FilterLogEvents":
		l.filter(w, c)
	case "DescribeLogGroups":
		l.describeGroups(w, c)
	default:
		JSONError(w, http.StatusBadRequest, "UnknownOperationException", "awsfake: CloudWatch Logs fakes no "+c.Operation)
	}
}

type filterInput struct {
	LogGroupName  string `json:"logGroupName"`
	StartTime     *int64 `json:"startTime"`
	EndTime       *int64 `json:"endTime"`
	FilterPattern string `json:"filterPattern"`
	NextToken     string `json:"nextToken"`
	Limit         int    `json:"limit"`
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	IngestionTime int64  `json:"ingestionTime"`
	Message       string `json:"message"`
	EventID       string `json:"eventId"`
}

func (l *Logs) filter(w http.ResponseWriter, c Call) {
	var in filterInput
	if err := c.JSON(&in); err != nil {
		JSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	terms, err := patternTerms(in.FilterPattern)
	if err != nil {
		JSONError(w, http.StatusBadRequest, "InvalidParameterException", err.Error())
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if in.NextToken != "" {
		l.answerPage(w, in.NextToken, in.Limit, "events")
		return
	}
	g, ok := l.groups[in.LogGroupName]
	if !ok {
		JSONError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	}
	l.searches++
	g.searches++
	var found []any
	for i, e := range g.events {
		ms := e.Time.UnixMilli()
		if g.searches <= e.Delay || (in.StartTime != nil && ms < *in.StartTime) || (in.EndTime != nil && ms > *in.EndTime) || !matches(e.Message, terms) {
			continue
		}
		found = append(found, filteredEvent{LogStreamName: e.Stream, Timestamp: ms, IngestionTime: ms, Message: e.Message, EventID: strconv.Itoa(i)})
	}
	slices.SortStableFunc(found, func(a, b any) int {
		return cmp.Compare(a.(filteredEvent).Timestamp, b.(filteredEvent).Timestamp)
	})
	l.answer(w, found, in.Limit, "events")
}

func (l *Logs) describeGroups(w http.ResponseWriter, c Call) {
	var in struct {
		Prefix    string `json:"logGroupNamePrefix"`
		NextToken string `json:"nextToken"`
		Limit     int    `json:"limit"`
	}
	if err := c.JSON(&in); err != nil {
		JSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if in.NextToken != "" {
		l.answerPage(w, in.NextToken, in.Limit, "logGroups")
		return
	}
	var names []string
	for name := range l.groups {
		if strings.HasPrefix(name, in.Prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	found := make([]any, len(names))
	for i, name := range names {
		arn := "arn:aws:logs:" + Region + ":" + FakeAccount + ":log-group:" + name
		found[i] = map[string]any{"logGroupName": name, "arn": arn + ":*", "logGroupArn": arn, "creationTime": 0, "storedBytes": 0}
	}
	l.answer(w, found, in.Limit, "logGroups")
}

// answer sends the first page of items under key and keeps the rest behind a
// nextToken.
func (l *Logs) answer(w http.ResponseWriter, items []any, limit int, key string) {
	size := l.PageSize
	if size <= 0 {
		size = 10000
	}
	if limit > 0 && limit < size {
		size = limit
	}
	out := map[string]any{key: []any{}}
	if len(items) > 0 {
		n := min(size, len(items))
		out[key] = items[:n]
		if rest := items[n:]; len(rest) > 0 {
			l.tokens++
			token := "page-" + strconv.Itoa(l.tokens)
			l.pages[token] = rest
			out["nextToken"] = token
		}
	}
	WriteJSON(w, http.StatusOK, out)
}

func (l *Logs) answerPage(w http.ResponseWriter, token string, limit int, key string) {
	rest, ok := l.pages[token]
	if !ok {
		JSONError(w, http.StatusBadRequest, "InvalidParameterException", "The specified nextToken is invalid.")
		return
	}
	delete(l.pages, token)
	l.answer(w, rest, limit, key)
}

// patternTerms reads the part of CloudWatch Logs' filter pattern syntax for
// unstructured events the fake models: terms and "quoted phrases", all of which
// must occur (case-sensitive). Anything else is refused, so a test notices a
// pattern the fake would not judge like the service.
func patternTerms(p string) ([]string, error) {
	var terms []string
	for rest := strings.TrimSpace(p); rest != ""; rest = strings.TrimSpace(rest) {
		if strings.HasPrefix(rest, `"`) {
			phrase, after, ok := strings.Cut(rest[1:], `"`)
			if !ok {
				return nil, fmt.Errorf("Invalid filter pattern %q: unterminated quote", p)
			}
			terms, rest = append(terms, phrase), after
			continue
		}
		term, after, _ := strings.Cut(rest, " ")
		if strings.ContainsAny(term, `?-{}[]*%"=<>!&|`) {
			return nil, fmt.Errorf("awsfake: filter pattern %q uses syntax the fake does not model (%q)", p, term)
		}
		terms, rest = append(terms, term), after
	}
	return terms, nil
}

func matches(msg string, terms []string) bool {
	for _, t := range terms {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	return true
}

// DeleteGroup deletes a log group and its events, as deleting its stack does.
func (l *Logs) DeleteGroup(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.groups, name)
}
