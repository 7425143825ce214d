"""The schedule's read side: sessions of a week, a day or a month laid out as grid cells.

Sessions belong to the cell of their local start (a day and an hour, or a room and a day).
Each carries what the grid shows: its exception (moved or cancelled), and the sessions it
conflicts with, named. `view` reads which schedule is asked for, `entries` loads its sessions,
`conflict_notes` names their conflicts, `layout` lays them out, `paging` pages a grid too
big for one page by room, `filter_choices` matches what is typed in the filter bar and the
cell editor's room.
"""
