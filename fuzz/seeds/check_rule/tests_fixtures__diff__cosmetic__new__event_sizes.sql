-- Total event size per user, reformatted with other aliases.
select ev.user_id,
       usr.name,
       SUM(ev.size) as total
  from clean_events ev
  inner join user_names usr
    on usr.user_id = ev.user_id
 group by ev.user_id, usr.name
